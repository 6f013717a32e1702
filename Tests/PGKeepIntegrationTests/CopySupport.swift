import Foundation
import Testing

@testable import PGKeep

/// The PostgreSQL 16 server Scripts/test.sh starts beside the 15 one (from PyPI's pgserver
/// wheel), and helpers for the copy and compare tests.
enum Server16 {
    static let env = ProcessInfo.processInfo.environment
    static var available: Bool { env["PGKEEP_TEST_PG16_PORT"] != nil }
    static var enabled: Bool { available || TestServer.required }
    static var port: String { env["PGKEEP_TEST_PG16_PORT"] ?? "0" }
    static var socketDir: String { env["PGKEEP_TEST_PG16_SOCKET"] ?? "/tmp" }
    static var bin: String { env["PGKEEP_TEST_PG16_BIN"] ?? "/opt/pgkeep-pg16/pgserver/pginstall/bin" }

    /// A URI for pgkeep (the password comes from PGPASSWORD, never argv).
    static func uri(_ db: String) -> String { "postgresql://postgres@127.0.0.1:\(port)/\(db)" }

    static func psql(_ db: String, _ sql: String) throws -> String {
        let r = try TestServer.run(
            bin + "/psql",
            ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", socketDir, "-p", port, "-d", db, "-c", sql])
        guard r.status == 0 else { throw PGKeepError(.backup, "psql (16) failed: \(sql): \(r.stderr)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func dropDatabase(_ name: String) {
        _ = try? psql("postgres", "DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
    }

    static func rowCounts(_ db: String) throws -> [String: Int] {
        try TestServer.rowCounts(db, socket: socketDir, port: port)
    }
}

enum CopyTestSupport {
    /// pgkeep's environment for copies: the 16 client tools are findable (the configured search
    /// list), so a copy to 16 picks them by itself.
    static var env: [String: String] {
        var e = TestServer.connectionEnv
        e["PGKEEP_PG_BIN_SEARCH"] = Server16.bin
        return e
    }

    static func uri15(_ db: String) -> String { "postgresql://postgres@127.0.0.1:\(TestServer.port)/\(db)" }

    /// Databases on a server whose names start with `prefix` (scratch copies left behind).
    static func leftovers(_ prefix: String, on16: Bool) throws -> String {
        let sql = "SELECT count(*) FROM pg_database WHERE datname LIKE '\(prefix)%'"
        return on16 ? try Server16.psql("postgres", sql) : try TestServer.psql("postgres", sql)
    }

    /// A database with a table big enough that its copy takes seconds (made once per run).
    static let bigDatabase: String = {
        let db = "copy_big_source"
        do {
            if try TestServer.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(db)'") == "0" {
                _ = try TestServer.psql("postgres", "CREATE DATABASE \(db)")
                _ = try TestServer.psql(
                    db,
                    """
                    CREATE TABLE big (id int PRIMARY KEY, payload text, at timestamptz DEFAULT now());
                    INSERT INTO big (id, payload) SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 1500000) g;
                    CREATE TABLE small (id serial PRIMARY KEY, note text);
                    INSERT INTO small (note) SELECT 'n' || g FROM generate_series(1, 1000) g;
                    """)
            }
        } catch {
            Issue.record("cannot build the big database: \(error)")
        }
        return db
    }()

    /// Polls `condition` every 50 ms for up to `seconds`.
    static func wait(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// True once a COPY FROM STDIN of pgkeep's runs on the server (the data phase has begun).
    static func copyRunning(on16: Bool) -> Bool {
        let sql = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY % FROM STDIN%' AND state = 'active'"
        let n = (try? (on16 ? Server16.psql("postgres", sql) : TestServer.psql("postgres", sql))) ?? "0"
        return n != "0"
    }
}
