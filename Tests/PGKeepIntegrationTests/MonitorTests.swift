import Foundation
import Testing

@testable import PGKeep

/// A real HTTP endpoint on loopback (Scripts/http-recorder.py): it records every request and
/// answers 200, 500, 500-then-200, or never, by the path's first segment.
final class Recorder: @unchecked Sendable {
    let child: ChildProcess
    let log: String
    let port: Int

    init() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        log = TestServer.tempDir("http") + "/requests.jsonl"
        child = ChildProcess(
            Command(
                executable: "/usr/bin/python3", arguments: [root + "/Scripts/http-recorder.py", log],
                environment: ProcessInfo.processInfo.environment), stdout: .pipe)
        try child.start()
        var line = ""
        var byte: UInt8 = 0
        while read(child.stdoutDescriptor, &byte, 1) == 1, byte != 10 { line.append(Character(UnicodeScalar(byte))) }
        guard let port = Int(line) else { throw PGKeepError(.backup, "the HTTP recorder did not start: \(line)") }
        self.port = port
    }

    deinit { child.terminate(grace: 1) }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    struct Request: Decodable {
        var method: String
        var path: String
        var query: String
        var headers: [String: String]
        var body: String
    }

    func requests(under prefix: String) -> [Request] {
        let text = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Request.self, from: Data($0.utf8)) }
            .filter { $0.path.hasPrefix(prefix) }
    }
}

@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct MonitorTests {
    static func events(_ requests: [Recorder.Request]) -> [[String: Any]] {
        requests.compactMap { try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any] }
    }

    @Test func aBackupPingsStartThenSuccessWithItsLog() throws {
        let http = try Recorder()
        let dir = TestServer.tempDir("mon-ok")
        let r = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir, "--healthchecks", http.url("/ok/hc-token-1"),
            "--webhook", http.url("/ok/wh"), "--ntfy", http.url("/ok/nt"),
            "--uptime-kuma", http.url("/ok/kuma?status=up&msg=OK&ping="),
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let hc = http.requests(under: "/ok/hc-token-1")
        #expect(hc.map(\.path) == ["/ok/hc-token-1/start", "/ok/hc-token-1"], "\(hc.map(\.path))")
        #expect(hc.last?.body.contains("pgkeep: \(TestServer.pagila): \(dir)") == true, "the log's tail")
        let events = Self.events(http.requests(under: "/ok/wh"))
        #expect(events.map { $0["event"] as? String } == ["start", "success"])
        let success = try #require(events.last)
        #expect(success["database"] as? String == TestServer.pagila)
        #expect((success["size"] as? Int ?? 0) > 0 && (success["path"] as? String)?.hasPrefix(dir) == true)
        #expect(success["pgkeep_version"] as? String == PGKeepVersion.string && success["host"] != nil)
        #expect(http.requests(under: "/ok/nt").isEmpty, "ntfy hears failures and anomalies only")
        let kuma = try #require(http.requests(under: "/ok/kuma").first)
        #expect(kuma.method == "GET" && kuma.query.contains("status=up"), "\(kuma.query)")
        #expect(!r.stderr.contains("hc-token-1"))
    }

    @Test func aFailedBackupPingsFailWithTheErrorAndKeepsItsExitCode() throws {
        let http = try Recorder()
        let dir = TestServer.tempDir("mon-fail")
        let r = try TestServer.pgkeep([
            "backup", "-d", "no_such_database_here", "--dir", dir, "--healthchecks", http.url("/ok/hc2"),
            "--ntfy", http.url("/ok/nt2"), "--webhook", http.url("/ok/wh2"),
        ])
        #expect(r.status == ExitCodes.preflight, "\(r.stderr)")
        let hc = http.requests(under: "/ok/hc2")
        #expect(hc.map(\.path) == ["/ok/hc2/start", "/ok/hc2/fail"], "\(hc.map(\.path))")
        #expect(hc.last?.body.contains("no_such_database_here") == true, "\(hc.last?.body ?? "")")
        let ntfy = try #require(http.requests(under: "/ok/nt2").first)
        #expect(ntfy.body.contains("FAILED") && ntfy.headers["priority"] == "high", "\(ntfy.body)")
        let events = Self.events(http.requests(under: "/ok/wh2"))
        #expect(events.map { $0["event"] as? String } == ["start", "failure"])
        #expect((events.last?["error"] as? String)?.contains("no_such_database_here") == true)
    }

    @Test func retriesOn500AndAHungOrRefusingEndpointNeverFailsTheRun() throws {
        let http = try Recorder()
        let dir = TestServer.tempDir("mon-retry")
        let flaky = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir, "--webhook", http.url("/flaky2/wh"),
        ])
        #expect(flaky.status == 0, "\(flaky.stderr)")
        let tries = http.requests(under: "/flaky2/wh")
        #expect(tries.count == 4, "start: 500, 500, 200; then success: 200 (\(tries.count))")
        #expect(!flaky.stderr.contains("warning"), "\(flaky.stderr)")
        // Always 500: three tries, then a warning; the backup stands.
        let broken = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir, "--healthchecks", http.url("/status500/hc-secret"),
        ])
        #expect(broken.status == 0, "\(broken.stderr)")
        #expect(http.requests(under: "/status500/hc-secret").count == 3, "3 tries for start, then skipped")
        #expect(
            broken.stderr.contains("after 3 tries: HTTP 500; it is skipped for the rest of this run"),
            "\(broken.stderr)")
        #expect(!broken.stderr.contains("hc-secret"), "the URL's token is masked: \(broken.stderr)")
        // Hung and refusing endpoints: the run costs at most about one timeout more (2 s here).
        let config = dir + "/pgkeep.toml"
        try FileSystem.writePrivateFile(config, data: Data("[monitor]\ntimeout = \"2s\"\n".utf8))
        let started = Date()
        let plain = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir])
        let base = Date().timeIntervalSince(started)
        #expect(plain.status == 0)
        let hangStart = Date()
        let hung = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir, "--config", config, "--healthchecks",
            http.url("/hang/hc"), "--webhook", "http://127.0.0.1:9/refused",
        ])
        let withHang = Date().timeIntervalSince(hangStart)
        #expect(hung.status == 0, "\(hung.stderr)")
        #expect(withHang < base + 2 + 3, "a hung endpoint costs about its timeout: \(withHang) s vs \(base) s")
        #expect(hung.stderr.contains("skipped for the rest of this run"), "\(hung.stderr)")
        #expect(http.requests(under: "/hang/hc").count == 1, "the hung target is not tried again this run")
        #expect(hung.stderr.contains("http://127.0.0.1:9/****"), "\(hung.stderr)")
    }

    @Test func metricsFileAndStatusPrometheusPassPromtool() throws {
        let dir = TestServer.tempDir("metrics")
        let metrics = dir + "/pgkeep.prom"
        let ok = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir + "/b", "--metrics-file", metrics,
        ])
        #expect(ok.status == 0, "\(ok.stderr)")
        let failed = try TestServer.pgkeep([
            "backup", "-d", "no_such_db_metrics", "--dir", dir + "/b", "--metrics-file", metrics,
        ])
        #expect(failed.status != 0)
        let text = String(decoding: FileManager.default.contents(atPath: metrics) ?? Data(), as: UTF8.self)
        let check = try TestServer.run("/bin/sh", ["-c", "promtool check metrics < '\(metrics)'"])
        #expect(check.status == 0, "promtool: \(check.stdout)\(check.stderr)\n\(text)")
        #expect(text.contains("pgkeep_backups{database=\"\(TestServer.pagila)\",location=\"local\"} 1"), "\(text)")
        #expect(text.contains("pgkeep_last_attempt_success{database=\"\(TestServer.pagila)\"} 1"))
        #expect(text.contains("pgkeep_size_anomaly{database=\"\(TestServer.pagila)\"} 0"))
        #expect(text.contains("# TYPE pgkeep_last_success_timestamp_seconds gauge"))
        let manifest = try #require(try TestServer.manifests(dir + "/b/" + TestServer.pagila).first).manifest
        #expect(
            text.contains(
                "pgkeep_last_backup_size_bytes{database=\"\(TestServer.pagila)\",format=\"custom\"} \(manifest.size)"))
        let status = try TestServer.pgkeep(["status", "--dir", dir + "/b", "--format", "prometheus"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout == text, "status prints what the textfile holds")
        #expect(
            text.contains("pgkeep_last_attempt_success{database=\"no_such_db_metrics\"} 0"),
            "a failed attempt shows, even for a database without backups: \(text)")
    }

    /// A metrics file that cannot be replaced (a directory stands at its path, so the rename fails
    /// after the temporary was written) is a warning: the backup stands, and no temporary is left.
    @Test func aMetricsFileThatCannotBeWrittenLeavesNoTemporary() throws {
        let dir = TestServer.tempDir("metrics-fail")
        try FileManager.default.createDirectory(atPath: dir + "/pgkeep.prom", withIntermediateDirectories: false)
        let r = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir + "/b", "--metrics-file", dir + "/pgkeep.prom",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("metrics file \(dir)/pgkeep.prom not written"), "\(r.stderr)")
        #expect(TestServer.listing(dir).filter { $0.hasPrefix(".pgkeep-tmp-") }.isEmpty, "\(TestServer.listing(dir))")
        #expect(
            TestServer.listing(dir + "/b").filter { $0.hasPrefix(".pgkeep-tmp-") }.isEmpty,
            "the attempt log's temporary too")
    }

    /// The alert rules docs/monitoring.md gives are valid Prometheus rules.
    @Test func theAlertRulesOfTheDocsPassPromtool() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let readme = try String(contentsOfFile: root + "/docs/monitoring.md", encoding: .utf8)
        let start = try #require(readme.range(of: "```yaml\n"))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        let rules = TestServer.tempDir("rules") + "/pgkeep.rules.yml"
        try FileSystem.writePrivateFile(rules, data: Data(readme[start.upperBound..<end.lowerBound].utf8))
        let check = try TestServer.run("/usr/bin/promtool", ["check", "rules", rules])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("SUCCESS: 2 rules found"), "\(check.stdout)")
    }
}
