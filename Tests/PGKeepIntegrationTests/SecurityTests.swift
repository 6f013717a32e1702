import Foundation
import Testing

@testable import PGKeep

/// Passwords never reach argv, output or manifests; files are 0600 and directories 0700
/// whatever the umask.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct SecurityTests {
    /// A superuser with a password no other test uses, so sampling /proc cannot be confused.
    func makeRole() throws -> (role: String, secret: String) {
        let role = TestServer.uniqueName("sec")
        let secret = "Pw-\(UUID().uuidString)"
        _ = try TestServer.psql("postgres", "CREATE ROLE \(role) LOGIN SUPERUSER PASSWORD '\(secret)'")
        return (role, secret)
    }

    func dropRole(_ role: String) { _ = try? TestServer.psql("postgres", "DROP ROLE IF EXISTS \(role)") }

    static func allArgv() -> [(pid: String, argv: String)] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid in
            guard Int(pid) != nil, let d = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else {
                return nil
            }
            return (pid, String(decoding: d.map { $0 == 0 ? 32 : $0 }, as: UTF8.self))
        }
    }

    @Test(arguments: ["DATABASE_URL", "POSTGRESQL_URI", "--dbname conninfo"])
    func passwordNeverInArgvOrOutput(via: String) throws {
        let (role, secret) = try makeRole()
        defer { dropRole(role) }
        let uri = "postgresql://\(role):\(secret)@\(TestServer.host):\(TestServer.port)/\(TestServer.pagila)"
        var env = TestServer.connectionEnv
        env["PGPASSWORD"] = nil
        env["PGHOST"] = nil
        env["PGPORT"] = nil
        env["PGUSER"] = nil
        var args = ["backup", "--dir", TestServer.tempDir("sec"), "--format", "plain", "--no-compress", "--json"]
        if via == "--dbname conninfo" {
            // The user's own argv holds it here; what is checked is that no child gets it.
            args += [
                "--dbname",
                "host=\(TestServer.host) port=\(TestServer.port) user=\(role) dbname=\(TestServer.pagila) "
                    + "password=\(secret)",
            ]
        } else {
            env[via] = uri
        }
        var sawPgDump = false
        var leaks: [String] = []
        var environLeaks: [String] = []
        for _ in 0..<5 where !sawPgDump {
            let run = try TestServer.pgkeep(args, env: env) { pgkeepPid in
                while TestServer.alive(pgkeepPid) {
                    for (pid, argv) in Self.allArgv() {
                        if argv.contains("pg_dump") && argv.contains("--dbname") {
                            sawPgDump = true
                            if let e = FileManager.default.contents(atPath: "/proc/\(pid)/environ"),
                                String(decoding: e, as: UTF8.self).contains(secret)
                            {
                                environLeaks.append(pid)
                            }
                        }
                        // With the conninfo variant pgkeep's own argv holds the password (the user
                        // typed it), and so does a child between fork and exec; neither is a child's.
                        if argv.contains(secret) && !(via == "--dbname conninfo" && argv.hasPrefix(TestServer.binary)) {
                            leaks.append(argv)
                        }
                    }
                    usleep(2_000)
                }
            }
            #expect(run.status == 0, "\(run.stderr)")
            #expect(!run.stdout.contains(secret) && !run.stderr.contains(secret))
        }
        #expect(sawPgDump, "pg_dump was seen running, so the sampling means something")
        #expect(leaks.isEmpty, "argv with the password: \(leaks)")
        #expect(environLeaks.isEmpty, "the password reaches pg_dump through a private passfile, not its environment")
        for (path, _) in try TestServer.manifests(args[2]) {
            let text = String(decoding: FileManager.default.contents(atPath: path)!, as: UTF8.self)
            #expect(!text.contains(secret))
            #expect(text.contains("\(role):****@"), "the source URI is masked")
        }
    }

    @Test func failuresDoNotEchoThePassword() throws {
        let secret = "Leak-\(UUID().uuidString)"
        var env = TestServer.connectionEnv
        for k in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"] { env[k] = nil }
        for uri in [
            "postgresql://postgres:\(secret)@\(TestServer.host):\(TestServer.port)/pagila",
            "postgresql://postgres:\(secret)@\(TestServer.host):\(TestServer.port)/missing_db",
            "postgresql://postgres:\(secret)@\(TestServer.host):notaport/pagila",
        ] {
            env["DATABASE_URL"] = uri
            let run = try TestServer.pgkeep(["backup", "--dir", TestServer.tempDir("leak"), "--json"], env: env)
            #expect(run.status != 0)
            #expect(!run.stderr.contains(secret) && !run.stdout.contains(secret), "\(run.stderr)")
            #expect(run.stderr.contains("postgres:****@") || run.stderr.contains("invalid"), "\(run.stderr)")
        }
    }

    @Test(arguments: ["custom", "directory"])
    func privateModesUnderUmask000(format: String) throws {
        let parent = TestServer.tempDir("mode")
        let dir = parent + "/new/backups"
        let run = try TestServer.pgkeep(
            ["backup", "-d", TestServer.pagila, "--dir", dir, "--format", format], umask: "000")
        #expect(run.status == 0, "\(run.stderr)")
        func mode(_ p: String) -> Int {
            var st = stat()
            _ = lstat(p, &st)
            return Int(st.st_mode & 0o777)
        }
        for rel in [""] + TestServer.listing(dir) {
            let p = rel.isEmpty ? dir : dir + "/" + rel
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: p, isDirectory: &isDir)
            #expect(
                mode(p) == (isDir.boolValue ? 0o700 : 0o600), "\(rel.isEmpty ? dir : rel): \(String(mode(p), radix: 8))"
            )
        }
        #expect(mode(parent + "/new") == 0o700)
    }
}

/// Redaction by value: with the password `postgres` (every compose quick start's), `a`, one with
/// a space, an @, a slash and an é, and a 200-character one, the password is masked where it
/// stands as a value and nowhere else; hooks keep PATH, HOME and USER.
extension SecurityTests {
    static let passwords = ["postgres", "a", "p@ss word/é", String(repeating: "Zq9-", count: 50)]

    @Test(arguments: passwords)
    func passwordsAreMaskedByValue(password: String) throws {
        let role = TestServer.uniqueName("redact")
        _ = try TestServer.psql("postgres", "CREATE ROLE \(role) LOGIN SUPERUSER PASSWORD '\(password)'")
        defer { dropRole(role) }
        let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password
        let server = "postgresql://\(role):\(encoded)@\(TestServer.host):\(TestServer.port)"
        let dir = TestServer.tempDir("redact")
        var env = TestServer.connectionEnv
        for k in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"] { env[k] = nil }
        env["USER"] = "postgres"
        env["HOME"] = "/root"
        env["DATABASE_URL"] = server + "/" + TestServer.pagila
        let ok = try TestServer.pgkeep(
            [
                "backup", "--dir", dir + "/b", "--schema-only", "--log-file", dir + "/log",
                "--on-success", "/bin/sh -c 'env > \(dir)/hook.env'",
            ], env: env)
        #expect(ok.status == 0, "\(ok.stderr)")
        env["DATABASE_URL"] = server + "/missing_db"
        let failed = try TestServer.pgkeep(["backup", "--dir", dir + "/b", "--log-file", dir + "/log"], env: env)
        #expect(failed.status != 0)
        #expect(
            failed.stderr.contains("postgresql://\(role):****@"), "masked as a value, the rest intact: \(failed.stderr)"
        )
        let log = String(decoding: FileManager.default.contents(atPath: dir + "/log") ?? Data(), as: UTF8.self)
        let manifests = try TestServer.manifests(dir + "/b").map {
            String(decoding: try $0.manifest.encoded(), as: UTF8.self)
        }
        for text in [ok.stderr, ok.stdout, failed.stderr, log] + manifests {
            #expect(!text.contains(":\(encoded)@") && !text.contains(":\(password)@"), "\(text)")
            #expect(!text.contains("****ql://"), "a password is never masked inside a word: \(text)")
        }
        let hook = String(decoding: FileManager.default.contents(atPath: dir + "/hook.env") ?? Data(), as: UTF8.self)
        let lines = Set(hook.split(separator: "\n").map(String.init))
        #expect(lines.contains("USER=postgres") && lines.contains("HOME=/root"), "\(lines.sorted())")
        #expect(lines.contains { $0.hasPrefix("PATH=") && $0.contains("postgresql") }, "PATH is kept")
        // USER=postgres stays even when the password is `postgres`: it is the user, not the password.
        #expect(
            !lines.contains {
                $0.hasPrefix("DATABASE_URL=") || ($0.hasSuffix("=" + password) && !$0.hasPrefix("USER="))
            })
    }
}
