import Foundation
import Testing

@testable import PGKeep

/// What the tests of pgkeep against a hostile world share: a loopback proxy that freezes or
/// resets connections (Scripts/tcp-proxy.py), sessions that hold locks, and the checks every
/// such test ends with (no session of pgkeep's left on the server, nothing partial on disk).
enum HostileWorld {
    /// A running tcp-proxy.py in front of the test server.
    final class Proxy {
        let child: ChildProcess
        let port: String

        /// `freezeAfter` (server to client), `freezeAfterUp` / `resetAfter` (client to server): bytes
        /// on one connection before it freezes or is reset.
        init(freezeAfter: Int = 0, freezeAfterUp: Int = 0, resetAfter: Int = 0) throws {
            let dir = TestServer.tempDir("proxy")
            let portFile = dir + "/port"
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Scripts/tcp-proxy.py").path
            child = ChildProcess(
                Command(
                    executable: "/usr/bin/env",
                    arguments: [
                        "python3", script, "--target", TestServer.port, "--port-file", portFile,
                        "--freeze-after", String(freezeAfter), "--freeze-after-up", String(freezeAfterUp),
                        "--reset-after", String(resetAfter),
                    ], environment: TestServer.env), stdout: .null)
            try child.start()
            var found: String?
            for _ in 0..<100 {
                if let text = try? String(contentsOfFile: portFile, encoding: .utf8) {
                    found = text
                    break
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
            guard let found else { throw PGKeepError(.backup, "tcp-proxy.py did not start") }
            port = found
        }

        func uri(_ db: String, _ query: String = "") -> String {
            "postgresql://postgres@127.0.0.1:\(port)/\(db)" + (query.isEmpty ? "" : "?" + query)
        }

        func freezeNow() { child.signalGroup(SIGUSR1) }

        func stop() {
            child.signalGroup(SIGTERM)
            _ = child.wait()
        }

        deinit { child.signalGroup(SIGKILL) }
    }

    /// A new backup of `db` (with `args`) in a folder of its own; its manifest's path.
    static func backup(of db: String, _ args: [String] = []) throws -> String {
        let dir = TestServer.tempDir("hw-backup")
        let backup = try TestServer.pgkeep(["backup", "--dir", dir, "-d", db] + args)
        guard backup.status == 0 else { throw PGKeepError(.backup, "backup of \(db) failed: \(backup.stderr)") }
        return try TestServer.manifests(dir)[0].path
    }

    /// A URI straight to the test server.
    static func uri(_ db: String) -> String { "postgresql://postgres@127.0.0.1:\(TestServer.port)/\(db)" }

    /// A session of the test's own, named "migration", that holds a lock (or anything `sql`
    /// takes) until rolled back; and its backend pid.
    static func hold(_ db: String, _ sql: String) throws -> (session: PostgresConnection, pid: String) {
        let conn = try PostgresConnection(
            spec: ConnectionSpec(parameters: [
                "host": TestServer.socketDir, "port": TestServer.port, "user": "postgres",
            ]),
            database: db)
        let pid = try conn.query("SET application_name = 'migration'; SELECT pg_backend_pid()")[0][0] ?? ""
        _ = try conn.query("BEGIN")
        _ = try conn.query(sql)
        return (conn, pid)
    }

    /// Sessions of the pgkeep process `pid` still on the server, after waiting up to `seconds`
    /// for them to end.
    static func sessionsLeft(of pid: Int32, within seconds: Double = 5) throws -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let n =
                Int(
                    try TestServer.psql(
                        "postgres", "SELECT count(*) FROM pg_stat_activity WHERE \(TestServer.appName(pid))"))
                ?? -1
            if n == 0 || Date() >= deadline { return n }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// Every entry below `dir` that is a backup, a manifest or a temporary file.
    static func backupFiles(_ dir: String) -> [String] {
        TestServer.listing(dir).filter { path in
            [".dump", ".sql", "manifest", ".pgkeep-tmp-"].contains { path.contains($0) }
        }
    }

    /// Runs pgkeep and measures how long it took.
    static func timed(_ args: [String], env: [String: String]? = nil, whileRunning: ((Int32) -> Void)? = nil) throws
        -> (run: TestServer.Run, seconds: Double)
    {
        let start = Date()
        let run = try TestServer.pgkeep(args, env: env, whileRunning: whileRunning)
        let seconds = Date().timeIntervalSince(start)
        print(
            "hostile-world: pgkeep \(args.first ?? "") ended in \(String(format: "%.1f", seconds)) s, exit \(run.status)"
        )
        return (run, seconds)
    }
}
