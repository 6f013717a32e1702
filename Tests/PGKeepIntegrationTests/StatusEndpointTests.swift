import Foundation
import Testing

@testable import PGKeep

/// The daemon's endpoints against a real server and a real client (curl): `/healthz` answers 200
/// exactly while `pgkeep status` exits 0, turns 503 when the newest backup passes `max_age` and
/// back after a backup; `/metrics` passes `promtool check metrics`; the page needs its basic auth,
/// the probes do not; nothing but GET and HEAD is served; 100 requests at once, while a backup
/// runs, are all answered.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .serialized)
struct StatusEndpointTests {
    static func status(_ config: String) throws -> Int32 {
        try TestServer.pgkeep(["status", "--config", config]).status
    }

    /// Polls `url` until it answers `code`, up to `seconds`; the last answer.
    static func waitFor(_ url: String, code: Int, seconds: Double) -> HTTPProbe.Answer? {
        let deadline = Date().addingTimeInterval(seconds)
        var last: HTTPProbe.Answer?
        repeat {
            last = HTTPProbe.get(url)
            if last?.status == code { return last }
            Thread.sleep(forTimeInterval: 0.25)
        } while Date() < deadline
        return last
    }

    @Test func healthzFollowsStatusMetricsPassPromtoolAndThePageNeedsItsPassword() throws {
        let dir = TestServer.tempDir("endpoints")
        let db = TestServer.uniqueName("endpoints")
        try TestServer.createDatabase(db)
        defer { TestServer.dropDatabase(db) }
        _ = try TestServer.psql(db, "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
        let port = TestServer.freePort()
        let authFile = dir + "/web-users"
        try FileSystem.writePrivateFile(authFile, data: Data("# who may see the page\nops:s3cret-Page\n".utf8))
        let config = dir + "/pgkeep.toml"
        try FileSystem.writePrivateFile(
            config,
            data: Data(
                """
                [backup]
                dir = "\(dir)/backups"
                databases = ["\(db)"]

                [status]
                max_age = "8s"

                [daemon]
                listen = "127.0.0.1:\(port)"
                auth_file = "\(authFile)"
                """.utf8))
        let base = "http://127.0.0.1:\(port)"
        var checks: [String: Bool] = [:]
        var notes: [String] = []
        let daemon = try TestServer.pgkeep(
            ["daemon", "--config", config, "--cron", "0 3 1 1 *"],
            whileRunning: { pid in
                defer { kill(pid, SIGTERM) }
                // The start finds no backup and runs once: /healthz is 503, then 200.
                let healthy = Self.waitFor(base + "/healthz", code: 200, seconds: 90)
                checks["healthy after the catch-up run"] = healthy?.body == "ok\n"
                checks["status agrees"] = (try? Self.status(config)) == 0
                let metrics = HTTPProbe.get(base + "/metrics")
                let metricsFile = dir + "/metrics.txt"
                try? Data((metrics?.body ?? "").utf8).write(to: URL(fileURLWithPath: metricsFile))
                let promtool = try? TestServer.run("/bin/sh", ["-c", "promtool check metrics < \(metricsFile)"])
                checks["promtool check metrics"] = metrics?.status == 200 && promtool?.status == 0
                notes.append("promtool: \(promtool?.stdout ?? "") \(promtool?.stderr ?? "")")
                let body = metrics?.body ?? ""
                checks["the daemon's metrics"] =
                    body.contains("pgkeep_daemon_runs_total{outcome=\"ok\"} 1")
                    && body.contains("pgkeep_last_success_timestamp_seconds{database=\"\(db)\"}")
                    && body.contains("pgkeep_daemon_next_run_timestamp_seconds ") && body.contains("pgkeep_status_ok 1")
                // The page needs the password; the probes do not; nothing is written through it.
                checks["page: 401 without"] = HTTPProbe.get(base + "/")?.status == 401
                checks["page: 401 wrong"] = HTTPProbe.get(base + "/", credentials: "ops:wrong")?.status == 401
                let page = HTTPProbe.get(base + "/", credentials: "ops:s3cret-Page")
                checks["page: 200 right"] = page?.status == 200 && page?.body.contains("id=\"databases\"") == true
                checks["POST refused"] = HTTPProbe.get(base + "/healthz", method: "POST")?.status == 405
                checks["DELETE refused"] = HTTPProbe.get(base + "/", method: "DELETE")?.status == 405
                checks["unknown path 404"] = HTTPProbe.get(base + "/nothing")?.status == 404
                // HEAD: the headers alone, so the next answer on the same connection is whole.
                let head = try? TestServer.run(
                    "/usr/bin/env",
                    [
                        "python3", "-c",
                        """
                        import http.client
                        c = http.client.HTTPConnection("127.0.0.1", \(port), timeout=20)
                        c.request("HEAD", "/healthz"); r = c.getresponse(); b = r.read()
                        c.request("GET", "/healthz"); r2 = c.getresponse()
                        print(r.status, r.getheader("Content-Length"), len(b), r2.status, r2.read().decode().strip())
                        """,
                    ])
                checks["HEAD"] = head?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "200 3 0 200 ok"
                notes.append("HEAD: \(head?.stdout ?? "") \(head?.stderr ?? "")")
                // 100 requests at once while a backup of Pagila runs: every one answered.
                let backup = DispatchGroup()
                let backupStatus = Locked<Int32>(-1)
                DispatchQueue.global().async(group: backup) {
                    let r = try? TestServer.pgkeep(["backup", "--config", config, "-d", TestServer.pagila])
                    backupStatus.withLock { $0 = r?.status ?? -1 }
                }
                let urls = (0..<100).flatMap { i in [i % 2 == 0 ? base + "/healthz" : base + "/metrics"] }
                let burst = try? TestServer.run(
                    "/usr/bin/curl",
                    [
                        "-s", "--parallel", "--parallel-immediate", "--parallel-max", "100", "-m", "30", "-w",
                        "%{http_code}\n",
                    ]
                        + urls.flatMap { ["-o", "/dev/null", $0] })
                backup.wait()
                let codes = (burst?.stdout ?? "").split(separator: "\n")
                // (Answered: 200, or 503 should the backup pass max_age meanwhile on a slow machine.)
                checks["100 at once, all answered"] =
                    codes.count == 100 && codes.allSatisfy { $0 == "200" || $0 == "503" }
                checks["the backup beside them"] = backupStatus.current == 0
                notes.append("burst: \(codes.count) answers, \(Set(codes))")
                // Older than max_age: 503, naming the database; status says the same.
                let stale = Self.waitFor(base + "/healthz", code: 503, seconds: 30)
                checks["503 once stale"] = stale?.status == 503 && stale?.body.contains(db) == true
                checks["status agrees it is stale"] = (try? Self.status(config)) == 1
                notes.append("stale body: \(stale?.body ?? "")")
                // A backup: 200 again.
                _ = try? TestServer.pgkeep(["backup", "--config", config, "-d", db])
                checks["200 after a backup"] = Self.waitFor(base + "/healthz", code: 200, seconds: 10)?.status == 200
            })
        #expect(daemon.status == 143, "\(daemon.stdout)\n\(daemon.stderr)")
        for (name, passed) in checks.sorted(by: { $0.key < $1.key }) {
            #expect(passed, "\(name)\n\(notes.joined(separator: "\n"))\n\(daemon.stdout)")
        }
        #expect(checks.count == 16, "every check ran: \(checks.keys.sorted())")
    }

    @Test func anAddressInUseOrNotAnAddressFailsTheStart() throws {
        let dir = TestServer.tempDir("endpoints-bad")
        // A port someone listens on.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(bound == 0 && listen(holder, 1) == 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(holder, $0, &len) }
        }
        let port = UInt16(bigEndian: addr.sin_port)
        let env = DaemonTests.env(dir, database: TestServer.pagila, cron: "0 3 1 1 *")
        let inUse = try TestServer.pgkeep(["daemon", "--listen", "127.0.0.1:\(port)"], env: env)
        #expect(
            inUse.status == 64
                && inUse.stderr.contains("cannot listen on 127.0.0.1:\(port): bind: Address already in use"),
            "\(inUse.stderr)")
        let notAddress = try TestServer.pgkeep(["daemon", "--listen", "backups.example.com:80"], env: env)
        #expect(notAddress.status == 64 && notAddress.stderr.contains("is not HOST:PORT"), "\(notAddress.stderr)")
        #expect(try TestServer.manifests(dir).isEmpty, "no run was started")
    }
}
