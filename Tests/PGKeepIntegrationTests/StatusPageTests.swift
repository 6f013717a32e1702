import Foundation
import Testing

@testable import PGKeep

/// The status page in a real browser (headless Chromium through Selenium, Scripts/browser-check.py)
/// for a backup directory with several databases, an anomaly, a failed run, a pinned backup, two
/// remote destinations and hostile text (a database named `<script>…`, a label and a manifest with
/// markup): `pgkeep report --html` and the daemon's `/` render every database, the anomaly marker,
/// the failure's message and the charts, with no console message, no request but the page's own
/// and no script; hostile text shows as text. Screenshots at phone and desktop widths, light and
/// dark (copied to `PGKEEP_SCREENSHOT_DIR` when set: how docs/status-page.png is made).
@Suite(
    .enabled(
        if: TestServer.enabled && (TestServer.s3Available || TestServer.required)
            && (FileManager.default.fileExists(atPath: "/usr/bin/chromedriver") || TestServer.required),
        "needs the server and moto that Scripts/test.sh starts, and chromium-driver"), .serialized)
struct StatusPageTests {
    static let hostileName = "<script>console.error('xss-db')</script>"
    static let hostileLabel = "<script>console.error(\"xss-label\")</script> & <b>bold</b>"

    /// A TOML basic string.
    static func toml(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Runs the browser on `url`; the JSON it printed.
    static func browse(_ url: String, _ out: String, credentials: String? = nil) throws -> [String: Any] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let script = root + "/Scripts/browser-check.py"
        let r = try TestServer.run("/usr/bin/env", ["python3", script, url, out] + (credentials.map { [$0] } ?? []))
        try #require(r.status == 0, "browser-check failed: \(r.stderr.suffix(3000))")
        return try #require(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    /// What every rendering of the scene must show.
    static func expectTheScene(_ page: [String: Any], url: String, shop: String, small: String, missing: String) {
        let rows = page["rows"] as? [String] ?? []
        for db in [TestServer.pagila, shop, small, hostileName, missing] {
            #expect(rows.contains(db), "row of \(db) in \(rows)")
        }
        #expect((page["anomaly_markers"] as? Int ?? 0) >= 1, "the anomaly marker")
        #expect((page["chart_anomalies"] as? Int ?? 0) >= 1, "the anomaly in the chart")
        #expect((page["charts"] as? Int ?? 0) >= 4, "a chart per database with backups")
        #expect((page["pinned"] as? Int ?? 0) >= 1, "the pinned backup")
        let failures = (page["failures"] as? [String] ?? []).joined(separator: "\n")
        #expect(failures.contains(missing) && failures.contains("does not exist"), "the failure: \(failures)")
        let remotes = page["remotes"] as? [String] ?? []
        #expect(remotes.count == 2 && remotes.allSatisfy { $0.contains("reachable") }, "\(remotes)")
        #expect((page["retention_rows"] as? Int ?? 0) >= 5)
        let smallRow = (page["row_text"] as? [String] ?? []).first { $0.hasPrefix(small) } ?? ""
        #expect(smallRow.contains("passed") && smallRow.contains("about "), "drill and forecast: \(smallRow)")
        // Hostile text is text: no script element, no handler attribute, the characters shown.
        #expect(page["scripts"] as? Int == 0 && page["event_handlers"] as? Int == 0)
        let text = page["text"] as? String ?? ""
        #expect(text.contains(hostileName) && text.contains(hostileLabel), "hostile text shown as text")
        // (In the retention table, folded: in the document's text, not the rendered text.)
        let content = page["content"] as? String ?? ""
        #expect(content.contains("label: <img src=x onerror=console.error(1)>"), "the manifest's markup as text")
        #expect((page["console"] as? [Any] ?? ["?"]).isEmpty, "console: \(page["console"] ?? "")")
        let requests = page["requests"] as? [String] ?? ["?"]
        #expect(!requests.isEmpty && requests.allSatisfy { $0 == url }, "the page asked for nothing else: \(requests)")
        for width in ["phone", "phone_dark", "desktop", "desktop_dark"] {
            let m = page[width] as? [String: Any] ?? [:]
            #expect(m["overflow"] as? Int == 0, "\(width): the page fits the width: \(m)")
        }
        let light = (page["phone"] as? [String: Any])?["background"] as? String
        let dark = (page["phone_dark"] as? [String: Any])?["background"] as? String
        #expect(light == "rgb(255, 255, 255)" && dark != light, "a dark theme: \(dark ?? "")")
    }

    @Test func theReportAndTheDaemonsPageRenderTheWholeSceneInABrowser() throws {
        let dir = TestServer.tempDir("page")
        let shop = TestServer.uniqueName("page_shop")
        let small = TestServer.uniqueName("page_small")
        // A database that does not exist, with markup in its name: the failure's message quotes it.
        let missing = "pm\(UInt16.random(in: 0...UInt16.max))<script>console.error(1)</script>"
        for db in [shop, small, Self.hostileName] { try TestServer.createDatabase(db) }
        defer { for db in [shop, small, Self.hostileName] { TestServer.dropDatabase(db) } }
        _ = try TestServer.psql(
            shop, "CREATE TABLE t AS SELECT g, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 40000) g"
        )
        _ = try TestServer.psql(small, "CREATE TABLE t AS SELECT 1 AS x")
        let bucket = try OffsiteTests.bucket() + "/page"
        let config = dir + "/pgkeep.toml"
        let port = TestServer.freePort()
        let databases = [TestServer.pagila, shop, small, Self.hostileName, missing].map(Self.toml)
        try FileSystem.writePrivateFile(
            config,
            data: Data(
                """
                [backup]
                dir = "\(dir)/backups"
                databases = [\(databases.joined(separator: ", "))]
                label = \(Self.toml(Self.hostileLabel))

                [retention]
                keep_last = 10

                [[remote]]
                name = "s3"
                target = "\(bucket)"

                [[remote]]
                name = "disk"
                target = "localdisk:\(dir)/disk-store"

                [daemon]
                listen = "127.0.0.1:\(port)"
                """.utf8))
        let env = MultiDestinationTests.env()
        // Two runs (the missing database fails each), then the shop shrinks: an anomaly.
        for _ in 0..<2 {
            let run = try TestServer.pgkeep(["run", "--config", config], env: env)
            #expect(run.status == 1 && run.stderr.contains(missing), "\(run.stderr)")
            Thread.sleep(forTimeInterval: 1.1)
        }
        _ = try TestServer.psql(shop, "TRUNCATE t")
        let shrunk = try TestServer.pgkeep(["backup", "--config", config, "-d", shop], env: env)
        #expect(shrunk.status == 0 && shrunk.stderr.contains("ANOMALY"), "\(shrunk.stderr)")
        let backups = try TestServer.manifests(dir + "/backups")
        // The listing is sorted by name: the last of a database is its newest.
        let newestPagila = try #require(backups.last { $0.manifest.database == TestServer.pagila })
        let pin = try TestServer.pgkeep(["pin", String(newestPagila.path.dropLast(BackupName.manifestSuffix.count))])
        #expect(pin.status == 0, "\(pin.stderr)")
        // A manifest with markup in it (edited by hand: pgkeep never reads the label back as markup).
        let smallManifest = try #require(backups.last { $0.manifest.database == small })
        var edited = smallManifest.manifest
        edited.label = "<img src=x onerror=console.error(1)>"
        try FileSystem.replace(smallManifest.path, with: try edited.encoded())
        // A drill of the small database's newest backup: its result and the forecast on the page.
        let drill = try TestServer.pgkeep(
            ["verify", "--all", "--config", config, "--database", small, "--restore-drill"], env: env)
        #expect(drill.status == 0, "\(drill.stderr)")

        // The static report.
        let html = dir + "/report.html"
        let report = try TestServer.pgkeep(["report", "--config", config, "--html", html], env: env)
        try #require(report.status == 0, "\(report.stderr)")
        var st = stat()
        #expect(stat(html, &st) == 0 && st.st_mode & 0o777 == 0o600)
        let fileURL = URL(fileURLWithPath: html).absoluteString
        let shots = dir + "/shots"
        Self.expectTheScene(try Self.browse(fileURL, shots), url: fileURL, shop: shop, small: small, missing: missing)

        // The daemon's page, while the daemon runs (a yearly schedule: it only catches up, if at all).
        let url = "http://127.0.0.1:\(port)/"
        var page: [String: Any] = [:]
        let daemon = try TestServer.pgkeep(
            ["daemon", "--config", config, "--cron", "0 3 1 1 *"], env: env,
            whileRunning: { pid in
                defer { kill(pid, SIGTERM) }
                // Its catch-up run (the missing database has no backup) fails; the page after it.
                let deadline = Date().addingTimeInterval(120)
                while Date() < deadline,
                    HTTPProbe.get(url + "metrics")?.body.contains("pgkeep_daemon_runs_total{outcome=\"failed\"} 1")
                        != true
                {
                    Thread.sleep(forTimeInterval: 0.5)
                }
                page = (try? Self.browse(url, shots + "-daemon")) ?? [:]
            })
        #expect(daemon.status == 143, "\(daemon.stdout) \(daemon.stderr)")
        #expect(daemon.stdout.contains("serving /healthz, /metrics and the status page on http://127.0.0.1:\(port)"))
        try #require(!page.isEmpty, "the daemon's page loaded: \(daemon.stdout)")
        Self.expectTheScene(page, url: url, shop: shop, small: small, missing: missing)
        #expect((page["text"] as? String ?? "").contains("next run"), "the next scheduled run")
        let daemonFailures = (page["failures"] as? [String] ?? []).joined(separator: "\n")
        #expect(
            daemonFailures.contains("daemon run") && daemonFailures.contains("the run exited with status 1"),
            "\(daemonFailures)")
        if let keep = ProcessInfo.processInfo.environment["PGKEEP_SCREENSHOT_DIR"] {
            for name in ["status-desktop", "status-phone-dark"] {
                try? FileManager.default.removeItem(atPath: "\(keep)/\(name).png")
                try FileManager.default.copyItem(atPath: "\(shots)-daemon/\(name).png", toPath: "\(keep)/\(name).png")
            }
        }
    }
}

/// A loopback HTTP client for the endpoint tests: curl, so the requests are a real client's.
enum HTTPProbe {
    struct Answer {
        var status: Int
        var body: String
    }

    static func get(_ url: String, method: String = "GET", credentials: String? = nil) -> Answer? {
        var args = ["-s", "-m", "20", "-X", method, "-o", "-", "-w", "\n%{http_code}", url]
        if let credentials { args += ["-u", credentials] }
        guard let r = try? TestServer.run("/usr/bin/curl", args, pollTimeout: 30), r.status == 0 else { return nil }
        guard let cut = r.stdout.lastIndex(of: "\n"), let code = Int(r.stdout[r.stdout.index(after: cut)...]) else {
            return nil
        }
        return Answer(status: code, body: String(r.stdout[..<cut]))
    }

    /// Polls `url` until it answers at all (any status), up to `seconds`.
    static func waitFor(_ url: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if get(url) != nil { return true }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return false
    }
}
