import Foundation
import Testing

@testable import PGKeep

/// The status page's pure parts: hostile text renders as text (markup, quotes, control characters,
/// bytes that are not UTF-8, very long names), the page carries no script and no external
/// reference, the listen address and the basic-auth file are read as documented, and the daemon's
/// metrics say what it did.
struct StatusPageLogicTests {
    static let hostile = "<script>alert('x')</script>\"&<img src=x onerror=alert(1)>"

    @Test func escapingLeavesNoMarkupAndNoForbiddenCharacter() {
        let escaped = HTML.escape(Self.hostile + "\u{0}\u{1B}[31m\u{7F}\u{85}\r\n\t\u{FFFE}")
        #expect(!escaped.contains("<") && !escaped.contains(">") && !escaped.contains("\""))
        #expect(!escaped.contains("'"))
        #expect(escaped.hasPrefix("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;&lt;img"))
        for forbidden in ["\u{0}", "\u{1B}", "\u{7F}", "\u{85}", "\r", "\u{FFFE}"] {
            #expect(!escaped.contains(forbidden), "\(forbidden.unicodeScalars.first!.value) removed")
        }
        #expect(
            escaped.hasSuffix("\u{FFFD} \n\t\u{FFFD}"), "tab and newline kept: \(escaped.suffix(12).debugDescription)")
        // Bytes that are not UTF-8 (a SQL_ASCII server's name, a tool's stderr) arrive decoded
        // with replacement characters; their markup is escaped like any other.
        let bytes: [UInt8] = [0x64, 0x62, 0xFF, 0xFE, 0x3C, 0x62, 0x3E, 0xC3]
        let decoded = String(decoding: bytes, as: UTF8.self)
        #expect(HTML.escape(decoded) == "db\u{FFFD}\u{FFFD}&lt;b&gt;\u{FFFD}")
    }

    static func hostileView() -> StatusView {
        var view = StatusView(generated: Date(timeIntervalSince1970: 1_764_644_400))
        view.host = "<b>host</b>"
        let long = String(repeating: "ü<", count: 5000)
        var entry = StatusCheck.Entry(database: Self.hostile, fresh: true)
        entry.anomalies = ["<i>shrank</i>"]
        let point = StatusView.Point(
            time: Date(timeIntervalSince1970: 1_764_640_000), size: 10, duration: 1, anomalous: true, pinned: false)
        let db = StatusView.DatabaseView(
            name: Self.hostile, entry: entry, newest: nil, newestFile: "<x>.dump.gz", history: [point, point],
            retention: [.init(file: "<f>", label: "<l>", time: point.time, size: 10, keep: true, reasons: ["<why>"])],
            drill: nil, drilledFile: nil,
            lastAttempt: .init(time: "<t>", success: false, durationSeconds: nil, error: Self.hostile))
        let longDB = StatusView.DatabaseView(name: long)
        let longTwin = StatusView.DatabaseView(name: long + "x")
        view.scopes = [
            .init(
                server: "<srv>", directory: "/d<", policy: "<p>", databases: [db, longDB, longTwin],
                problems: ["<problem>"])
        ]
        view.report = StatusCheck.Report(entries: [entry], maxAge: 60)
        view.remotes = [.init(server: nil, name: "<r>", target: "s3:<b>", error: "<e>")]
        view.failures = [.init(time: point.time, what: "<w>", message: Self.hostile + "\nsecond line")]
        view.schedule = "<cron>"
        return view
    }

    @Test func aPageOfHostileTextHasNoMarkupButItsOwn() {
        let page = StatusPage.render(Self.hostileView())
        #expect(!page.lowercased().contains("<script"), "no script element")
        #expect(!page.contains("<img") && !page.contains("<i>") && !page.contains("<b>") && !page.contains("<srv>"))
        let handler = try! NSRegularExpression(pattern: "<[a-zA-Z][^>]*\\son[a-z]+=", options: [.caseInsensitive])
        // Attribute values emptied first (escaping leaves no raw quote inside one), then no tag may
        // carry an on...= attribute.
        let values = try! NSRegularExpression(pattern: "=\"[^\"]*\"")
        let bare = values.stringByReplacingMatches(
            in: page, range: NSRange(page.startIndex..., in: page), withTemplate: "=\"\"")
        let match = handler.firstMatch(in: bare, range: NSRange(bare.startIndex..., in: bare))
        #expect(
            match == nil, "no handler attribute: \(match.map { (bare as NSString).substring(with: $0.range) } ?? "")")
        #expect(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
        #expect(page.contains("&lt;i&gt;shrank&lt;/i&gt;") && page.contains("&lt;problem&gt;"))
        #expect(page.contains(String(repeating: "ü&lt;", count: 5000)), "a long name whole, escaped")
        // No external reference: nothing to fetch, the policy forbids scripts.
        for reference in ["http://", "https://", "src=\"", "href=", "<link", "url("] {
            #expect(!page.contains(reference), "\(reference)")
        }
        #expect(page.contains("Content-Security-Policy") && page.contains("default-src 'none'"))
        // Ids stay short and plain, whatever the name.
        let ids = page.components(separatedBy: "id=\"db-").dropFirst().map { $0.prefix { $0 != "\"" } }
        #expect(ids.count == 3 && Set(ids).count == 3, "unique ids, even for names alike in their first 200")
        #expect(ids.allSatisfy { $0.count <= 220 && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } })
    }

    /// Bytes that are not UTF-8 where a name should be: a folder's name (a foreign folder, passed
    /// over) and a manifest's database (a manifest that cannot be read, reported as such).
    @Test func namesThatAreNotUTF8AreReportedNotRendered() throws {
        let dir = NSTemporaryDirectory() + "pgkeep-page-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/shop", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let foreign = Array(dir.utf8) + [UInt8(ascii: "/"), 0xFF, 0x3C, 0x73, 0x3E]
        #expect(mkdirRaw(foreign))
        let name = "shop_2026-12-01T000000Z.dump.gz"
        FileManager.default.createFile(atPath: "\(dir)/shop/\(name)", contents: Data())
        var manifest = Data(#"{"database": ""#.utf8)
        manifest += [0xFF, 0x3C, 0x73, 0x3E]
        manifest += Data(#"", "file": "\#(name)", "format": "custom", "size": 0, "pinned": false}"#.utf8)
        FileManager.default.createFile(atPath: "\(dir)/shop/\(name).manifest.json", contents: manifest)
        let (scope, failures) = StatusView.scope(server: nil, directory: dir, policy: RetentionPolicy(), entries: [])
        #expect(scope.problems == ["1 manifest(s) that cannot be read"], "\(scope.problems)")
        var view = StatusView(generated: Date())
        view.scopes = [scope]
        view.failures = failures
        let page = StatusPage.render(view)
        #expect(page.contains("1 manifest(s) that cannot be read") && !page.contains("<s>"))
    }

    /// mkdir with the exact bytes (a String would turn 0xFF into U+FFFD's UTF-8).
    func mkdirRaw(_ bytes: [UInt8]) -> Bool {
        var raw = bytes + [0]
        return raw.withUnsafeMutableBufferPointer {
            mkdir(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), 0o700) == 0
        }
    }

    @Test func listenIsAStringOrAPortAloneInTheFileAndTheEnvironment() throws {
        let fromEnv = try #require(try PGKeepConfig.load(path: nil, environment: ["PGKEEP_DAEMON_LISTEN": "9187"]))
        #expect(fromEnv.daemonListen == "9187")
        let address = try #require(
            try PGKeepConfig.load(path: nil, environment: ["PGKEEP_DAEMON_LISTEN": "0.0.0.0:9187"]))
        #expect(address.daemonListen == "0.0.0.0:9187")
        #expect(throws: PGKeepError.self) {
            try PGKeepConfig.load(path: nil, environment: ["PGKEEP_DAEMON_LISTEN": "backups.example.com:80"])
        }
    }

    @Test func listenAddressesAreLoopbackUnlessSaid() throws {
        #expect(try ListenAddress("9187") == ListenAddress("127.0.0.1:9187"))
        #expect(try ListenAddress(":9187").host == "127.0.0.1")
        #expect(try ListenAddress("localhost:80").host == "127.0.0.1")
        #expect(try ListenAddress("0.0.0.0:9187").host == "0.0.0.0")
        #expect(try ListenAddress("[::1]:9187").text == "[::1]:9187")
        #expect(try ListenAddress("0").port == 0)
        for bad in ["", "example.com:80", "127.0.0.1:99999", "127.0.0.1:x", "[::1]9187", "1.2.3:4"] {
            #expect(throws: PGKeepError.self, "\(bad)") { try ListenAddress(bad) }
        }
    }

    @Test func basicAuthAdmitsOnlyItsPairs() throws {
        let file = NSTemporaryDirectory() + "pgkeep-auth-\(UUID().uuidString.prefix(8))"
        try FileSystem.writePrivateFile(file, data: Data("# users\n\nops:pa:ss\nme:x\n".utf8))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let auth = try BasicAuth(file: file)
        func header(_ s: String) -> String { "Basic " + Data(s.utf8).base64EncodedString() }
        #expect(auth.admits(header("ops:pa:ss")) && auth.admits(header("me:x")))
        #expect(auth.admits("basic " + Data("me:x".utf8).base64EncodedString()))
        for wrong in ["ops:pa", "ops:pa:ss2", "me:", "me:y", "", "# users"] {
            #expect(!auth.admits(header(wrong)), "\(wrong)")
        }
        #expect(!auth.admits(nil) && !auth.admits("Bearer x") && !auth.admits("Basic !!!"))
        #expect(
            Redaction.shared.applyToChildOutput("the password pa:ss") == "the password ****", "registered for masking")
        try FileSystem.replace(file, with: Data("# nobody\n".utf8))
        #expect(throws: PGKeepError.self) { try BasicAuth(file: file) }
    }

    @Test func theDaemonsMetricsCountItsRuns() {
        let state = DaemonState()
        state.scheduled(Date(timeIntervalSince1970: 2_000_000_000))
        state.runStarted()
        #expect(state.metricsText(statusOK: false).contains("pgkeep_daemon_running 1"))
        state.runFinished(seconds: 3.25, failure: nil)
        state.runFinished(seconds: 1, failure: "the run exited with status 1:\npgkeep: error: <boom>")
        state.runFinished(seconds: 0, failure: "could not start", started: false)
        let text = state.metricsText(statusOK: true)
        for line in [
            "pgkeep_status_ok 1", "pgkeep_daemon_running 0", "pgkeep_daemon_runs_total{outcome=\"ok\"} 1",
            "pgkeep_daemon_runs_total{outcome=\"failed\"} 1", "pgkeep_daemon_runs_total{outcome=\"not_started\"} 1",
            "pgkeep_daemon_next_run_timestamp_seconds 2000000000", "pgkeep_daemon_last_run_duration_seconds 0",
            "# TYPE pgkeep_daemon_runs_total counter",
        ] {
            #expect(text.contains(line + "\n"), "\(line)")
        }
        #expect(
            state.current.failures.map(\.message) == [
                "could not start", "the run exited with status 1:\npgkeep: error: <boom>",
            ])
    }
}
