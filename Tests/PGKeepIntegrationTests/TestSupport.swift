import Foundation
import Testing

@testable import PGKeep

/// The throwaway server started by Scripts/test.sh, and helpers that drive the built `pgkeep`
/// binary and the stock PostgreSQL tools. Connection details come from the environment that
/// test.sh sets; the password travels in PGPASSWORD, never in argv.
enum TestServer {
    static let env = ProcessInfo.processInfo.environment
    static var available: Bool { env["PGKEEP_TEST_PORT"] != nil }
    /// Under CI (`CI` set) the servers must be there: the suites run, and fail, instead of being skipped.
    static var required: Bool { !(env["CI"] ?? "").isEmpty }
    /// Whether the integration suites run: the server is there, or CI requires it.
    static var enabled: Bool { available || required }
    /// moto's S3 API, for the offsite suite.
    static var s3Available: Bool { env["PGKEEP_TEST_MOTO_PORT"] != nil }
    /// How long one program a test runs may take before it is killed and the test fails.
    static let runTimeout: TimeInterval = 300
    static var host: String { env["PGKEEP_TEST_HOST"] ?? "127.0.0.1" }
    static var port: String { env["PGKEEP_TEST_PORT"] ?? "0" }
    static var socketDir: String { env["PGKEEP_TEST_SOCKET"] ?? "/tmp" }
    static var password: String { env["PGKEEP_TEST_PASSWORD"] ?? "" }
    static var pgBin: String { env["PGKEEP_TEST_PG_BIN"] ?? "/usr/lib/postgresql/15/bin" }
    /// The Pagila fixture, loaded once by test.sh and only read by the tests.
    static let pagila = "pagila"

    static var binary: String {
        if let b = env["PGKEEP_BIN"] { return b }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/pgkeep").path
    }

    /// Environment for pgkeep and the stock tools: TCP with the password in PGPASSWORD.
    static var connectionEnv: [String: String] {
        var e = env
        e["PGHOST"] = host
        e["PGPORT"] = port
        e["PGUSER"] = "postgres"
        e["PGPASSWORD"] = password
        e["PATH"] = pgBin + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        for k in ["DATABASE_URL", "POSTGRESQL_URI", "PGDATABASE", "PGKEEP_DIR", "PGKEEP_PG_BIN"] { e[k] = nil }
        return e
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var pid: Int32
    }

    /// Runs a program to completion; `umask` is applied through /bin/sh before exec. Children are
    /// started with pgkeep's own ChildProcess (posix_spawn), not Foundation's Process, whose run()
    /// crashes now and then on Linux (an over-read of /proc/self/fd entries,
    /// swift-corelibs-foundation#5472): a suite that starts thousands of programs would hit it.
    @discardableResult
    static func run(
        _ executable: String, _ args: [String], env: [String: String]? = nil, umask: String? = nil,
        pollTimeout: TimeInterval? = nil, whileRunning: ((Int32) -> Void)? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Run {
        let command =
            umask.map {
                Command(
                    executable: "/bin/sh", arguments: ["-c", "umask \($0); exec \"$0\" \"$@\"", executable] + args,
                    environment: env ?? connectionEnv)
            } ?? Command(executable: executable, arguments: args, environment: env ?? connectionEnv)
        let child = ChildProcess(command, stdout: .collect)
        child.redactsStderr = false
        child.pipeGrace = 30
        try child.start()
        whileRunning?(child.pid)
        // Every wait is bounded: a hung program fails its test instead of hanging the suite.
        // A poll (`pollTimeout`) that hangs is killed and reads as failed, for its caller to ask again.
        if let pollTimeout, !child.waitForExit(timeout: pollTimeout) {
            child.signalGroup(SIGKILL)
        } else if !child.waitForExit(timeout: runTimeout) {
            child.signalGroup(SIGKILL)
            Issue.record(
                "\(executable) \(args.joined(separator: " ")) ran longer than \(Int(runTimeout)) s; killed",
                sourceLocation: sourceLocation)
        }
        let result = child.wait()
        let status: Int32 =
            switch result.termination {
            case .exited(let code): code
            case .signaled(let signal): 128 + signal
            }
        return Run(
            status: status, stdout: String(decoding: result.stdout, as: UTF8.self), stderr: result.stderr,
            pid: child.pid)
    }

    static func pgkeep(
        _ args: [String], env: [String: String]? = nil, umask: String? = nil,
        whileRunning: ((Int32) -> Void)? = nil
    ) throws -> Run {
        try run(binary, args, env: env, umask: umask, whileRunning: whileRunning)
    }

    /// Runs a shell pipeline (stock tools only) with pipefail.
    @discardableResult
    static func shell(_ script: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Run {
        let r = try run("/bin/bash", ["-c", "set -euo pipefail; " + script])
        #expect(r.status == 0, "shell failed: \(script)\n\(r.stderr)", sourceLocation: sourceLocation)
        return r
    }

    static func psql(_ db: String, _ sql: String) throws -> String {
        let r = try run(pgBin + "/psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql])
        guard r.status == 0 else { throw PGKeepError(.backup, "psql failed: \(sql): \(r.stderr)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// True while `pid` exists and is not a zombie (read from /proc, so nothing is reaped here).
    static func alive(_ pid: Int32) -> Bool {
        guard let d = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return false }
        let text = String(decoding: d, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return false }
        return !text[text.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// Writes DIR/pgkeep.toml for `pgkeep run`: backups of Pagila into DIR/backups, then `more`
    /// (further tables); returns its path.
    static func runConfig(in dir: String, _ more: String) throws -> String {
        let path = dir + "/pgkeep.toml"
        let text = "[backup]\ndir = \"backups\"\ndatabases = [\"\(pagila)\"]\n\n" + more
        try FileSystem.writePrivateFile(path, data: Data(text.utf8))
        return path
    }

    /// Waits up to `seconds` for `handle` to have data (or its end); false on timeout.
    static func waitReadable(_ handle: FileHandle, seconds: Double) -> Bool {
        var p = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, Int32(seconds * 1000)) > 0
    }

    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)_\(UInt32.random(in: 0...UInt32.max))"
    }

    static func createDatabase(_ name: String) throws {
        _ = try psql("postgres", "CREATE DATABASE \"\(name)\" TEMPLATE template0 ENCODING 'UTF8'")
    }

    static func dropDatabase(_ name: String) {
        _ = try? psql("postgres", "DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
    }

    /// `pg_dump --schema-only` without pg_dump's random \restrict / \unrestrict lines.
    static func schema(_ db: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let r = try run(pgBin + "/pg_dump", ["--schema-only", "-d", db])
        #expect(r.status == 0, "\(r.stderr)", sourceLocation: sourceLocation)
        return r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("\\restrict") && !$0.hasPrefix("\\unrestrict") }
            .joined(separator: "\n")
    }

    /// Exact row counts of every ordinary and partition table.
    /// Exact row counts of every table, on the 15 server (or the server at `socket`:`port`).
    static func rowCounts(_ db: String, socket: String = socketDir, port: String = port) throws -> [String: Int] {
        let conn = try PostgresConnection(
            spec: ConnectionSpec(parameters: ["host": socket, "port": port, "user": "postgres", "dbname": db]))
        let tables = try conn.query(
            """
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1
            """
        ).compactMap { $0[0] }
        var counts: [String: Int] = [:]
        for t in tables {
            counts[t] = Int(try conn.query("SELECT count(*) FROM \(t)")[0][0]!)!
        }
        return counts
    }

    /// The SQL condition for the sessions of the pgkeep process `pid`: its application_name is
    /// `pgkeep-PID-TAG` (TAG: six characters of that process; its watch, `...-watch`, is not matched).
    static func appName(_ pid: Int32) -> String {
        "application_name ~ '^pgkeep-\(pid)-[0-9a-z]{6}$'"
    }

    /// A loopback port for a server a test starts: below Linux's ephemeral range (32768 and up),
    /// where no outgoing connection's local port can take it, and free when this returns (a bind
    /// without SO_REUSEADDR succeeded). A port from the ephemeral range once collided with a
    /// client connection's port and the cluster could not start.
    static func freePort() -> String {
        for _ in 0..<200 {
            let port = UInt16.random(in: 20_000...32_000)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if bound == 0 { return String(port) }
        }
        return String(UInt16.random(in: 20_000...32_000))
    }

    static func tempDir(_ tag: String = "t") -> String {
        let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "pgkeep-\(tag)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Every entry below `dir`, relative, sorted (hidden temporary files included).
    static func listing(_ dir: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        return (e.allObjects as? [String] ?? []).sorted()
    }

    static func manifests(_ dir: String) throws -> [(path: String, manifest: Manifest)] {
        try listing(dir).filter { $0.hasSuffix(BackupName.manifestSuffix) }.map {
            let p = (dir as NSString).appendingPathComponent($0)
            return (p, try Manifest.load(path: p))
        }
    }

    static func sha256sum(_ path: String) throws -> String {
        let r = try run("/usr/bin/sha256sum", [path])
        return String(r.stdout.prefix(64))
    }

    /// A new age key: the key file (0600) and its public recipient.
    static func ageKey() throws -> (keyFile: String, recipient: String, secret: String) {
        let dir = tempDir("agekey")
        let key = dir + "/key.txt"
        let gen = try run("/usr/bin/age-keygen", ["-o", key])
        guard gen.status == 0 else { throw PGKeepError(.backup, "age-keygen failed: \(gen.stderr)") }
        let recipient = try run("/usr/bin/age-keygen", ["-y", key]).stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        let secret =
            String(decoding: FileManager.default.contents(atPath: key) ?? Data(), as: UTF8.self)
            .split(separator: "\n").first { $0.hasPrefix("AGE-SECRET-KEY-") }.map(String.init) ?? ""
        return (key, recipient, secret)
    }

    /// A --pg-bin directory whose pg_dump is `script` (with $REAL set to the real pg_dump) and
    /// whose other tools are the real ones.
    static func fakeToolDir(pgDump script: String) throws -> String {
        let dir = tempDir("fakebin")
        for tool in ["pg_restore", "psql", "pg_dumpall"] {
            try FileManager.default.createSymbolicLink(
                atPath: (dir as NSString).appendingPathComponent(tool),
                withDestinationPath: pgBin + "/" + tool)
        }
        let body = """
            #!/bin/bash
            REAL=\(pgBin)/pg_dump
            for a in "$@"; do [ "$a" = --version ] && exec "$REAL" --version; done
            \(script)
            """
        let path = (dir as NSString).appendingPathComponent("pg_dump")
        _ = FileManager.default.createFile(
            atPath: path, contents: Data(body.utf8), attributes: [.posixPermissions: 0o755])
        return dir
    }
}
