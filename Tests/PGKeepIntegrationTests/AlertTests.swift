import Foundation
import Testing

@testable import PGKeep

/// A real SMTP server on loopback (Scripts/smtp-recorder.py, aiosmtpd): every message it receives
/// lands in a folder, as received, with its envelope beside it.
final class MailRecorder: @unchecked Sendable {
    let child: ChildProcess
    let dir: String
    let port: Int

    init() throws {
        dir = TestServer.tempDir("smtp")
        child = ChildProcess(
            Command(
                // The python3 on PATH: the one Scripts/test.sh installed aiosmtpd into.
                executable: "/usr/bin/env",
                arguments: ["python3", CommandLineRoot.path + "/Scripts/smtp-recorder.py", dir],
                environment: ProcessInfo.processInfo.environment), stdout: .pipe)
        try child.start()
        var line = ""
        var byte: UInt8 = 0
        while read(child.stdoutDescriptor, &byte, 1) == 1, byte != 10 { line.append(Character(UnicodeScalar(byte))) }
        guard let port = Int(line) else {
            child.terminate(grace: 1)
            throw PGKeepError(
                .backup, "the SMTP recorder did not start (is aiosmtpd installed?): \(child.wait().stderrTail())")
        }
        self.port = port
    }

    deinit { child.terminate(grace: 1) }

    /// msmtp's config for this server, 0600 as msmtp demands; returns the `email_sendmail` value.
    func sendmail(in dir: String) throws -> String {
        let rc =
            "defaults\nauth off\ntls off\naccount default\nhost 127.0.0.1\nport \(port)\nfrom pgkeep@test.example\n"
        try FileSystem.writePrivateFile(dir + "/msmtprc", data: Data(rc.utf8))
        return "/usr/bin/msmtp -C '\(dir)/msmtprc'"
    }

    struct Message {
        var headers: [(name: String, value: String)]
        var body: String
        var recipients: [String]

        func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    }

    /// The messages received, in order: headers unfolded, the body as sent (CRLF made LF).
    func messages() -> [Message] {
        let names = TestServer.listing(dir).filter { $0.hasSuffix(".eml") }.sorted {
            Int($0.dropLast(4)) ?? 0 < Int($1.dropLast(4)) ?? 0
        }
        return names.map { name in
            let raw = String(decoding: FileManager.default.contents(atPath: dir + "/" + name) ?? Data(), as: UTF8.self)
                .replacingOccurrences(of: "\r\n", with: "\n")
            let split = raw.range(of: "\n\n") ?? raw.endIndex..<raw.endIndex
            let head = raw[..<split.lowerBound].replacingOccurrences(of: "\n ", with: " ")
            let headers = head.split(separator: "\n").map { line -> (name: String, value: String) in
                let colon = line.firstIndex(of: ":") ?? line.endIndex
                return (String(line[..<colon]), line[colon...].dropFirst().trimmingCharacters(in: .whitespaces))
            }
            let envelope = FileManager.default.contents(atPath: dir + "/" + name.dropLast(4) + ".json") ?? Data()
            let rcpt = (try? JSONSerialization.jsonObject(with: envelope) as? [String: Any])?["rcpt_tos"] as? [String]
            return Message(headers: headers, body: String(raw[split.upperBound...]), recipients: rcpt ?? [])
        }
    }
}

@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct AlertTests {
    static func json(_ request: Recorder.Request) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any])
    }

    static func tokenFile(in dir: String) throws -> (path: String, token: String) {
        let token = "7777777:AAF-tg_secret_\(UUID().uuidString.prefix(6))"
        try FileSystem.writePrivateFile(dir + "/tg-token", data: Data((token + "\n").utf8))
        return (dir + "/tg-token", token)
    }

    /// A failing backup, end to end: every chat gets its own format, Telegram its token's path,
    /// email a real message through msmtp and an SMTP server; the token is in no output or log.
    @Test func aFailingBackupAlertsTheChatsAndEmail() throws {
        let http = try Recorder()
        let smtp = try MailRecorder()
        let dir = TestServer.tempDir("alerts-fail")
        let (tokenPath, token) = try Self.tokenFile(in: dir)
        let config = dir + "/pgkeep.toml"
        let toml = """
            [monitor]
            slack = "\(http.url("/ok/slack/T0/B0/X"))"
            discord = "\(http.url("/ok/discord/1/abc"))"
            teams = "\(http.url("/ok/teams/x"))"
            telegram_token_file = "\(tokenPath)"
            telegram_chat_id = "-100123"
            telegram_api = "\(http.url("/ok"))"
            email = ["ops@example.com", "dba@example.com"]
            email_from = "pgkeep@test.example"
            email_sendmail = "\(try smtp.sendmail(in: dir).replacingOccurrences(of: "\"", with: "\\\""))"
            """
        try FileSystem.writePrivateFile(config, data: Data(toml.utf8))
        let database = "no_such_<b>&db"
        let r = try TestServer.pgkeep([
            "backup", "-d", database, "--dir", dir + "/b", "--config", config, "--log-file", dir + "/pgkeep.log",
        ])
        #expect(r.status == ExitCodes.preflight, "\(r.stderr)")
        #expect(!r.stderr.contains("warning"), "every target took its alert: \(r.stderr)")
        let slack = try Self.json(try #require(http.requests(under: "/ok/slack").first))
        #expect((slack["text"] as? String)?.contains("backup of no_such_&lt;b&gt;&amp;db FAILED on ") == true)
        let blocks = try #require(slack["blocks"] as? [[String: Any]])
        #expect(blocks.map { $0["type"] as? String } == ["header", "section", "section", "context"])
        let code = (blocks[2]["text"] as? [String: Any])?["text"] as? String ?? ""
        #expect(code.hasPrefix("```") && code.contains("does not exist"), "the error's first lines: \(code)")
        let discord = try Self.json(try #require(http.requests(under: "/ok/discord").first))
        #expect((discord["allowed_mentions"] as? [String: Any])?["parse"] as? [String] == [])
        let embed = try #require((discord["embeds"] as? [[String: Any]])?.first)
        #expect((embed["fields"] as? [[String: Any]])?.first?["value"] as? String == #"no\_such\_\<b\>&db"#)
        let teams = try Self.json(try #require(http.requests(under: "/ok/teams").first))
        let card = try #require((teams["attachments"] as? [[String: Any]])?.first?["content"] as? [String: Any])
        #expect(card["type"] as? String == "AdaptiveCard")
        let telegram = try #require(http.requests(under: "/ok/bot").first)
        #expect(telegram.method == "POST" && telegram.path == "/ok/bot\(token)/sendMessage", "\(telegram.path)")
        let message = try Self.json(telegram)
        #expect(message["chat_id"] as? String == "-100123" && message["parse_mode"] as? String == "HTML")
        #expect((message["text"] as? String)?.contains("<b>Database:</b> no_such_&lt;b&gt;&amp;db") == true)
        let log = String(decoding: FileManager.default.contents(atPath: dir + "/pgkeep.log") ?? Data(), as: UTF8.self)
        #expect(log.contains("does not exist"), "the log was written: \(log)")
        for (name, text) in [("stdout", r.stdout), ("stderr", r.stderr), ("log", log)] {
            #expect(!text.contains(token) && !text.contains("tg_secret_"), "the token is in pgkeep's \(name)")
        }
        let mails = smtp.messages()
        #expect(mails.count == 1, "\(mails.map(\.headers))")
        let mail = try #require(mails.first)
        #expect(Set(mail.recipients) == ["ops@example.com", "dba@example.com"])
        #expect(mail.header("To") == "ops@example.com, dba@example.com" && mail.header("From") == "pgkeep@test.example")
        #expect(mail.header("Subject") == "[pgkeep] backup of \(database) FAILED (\(MonitorRequests.host))")
        #expect(mail.header("Content-Type") == "text/plain; charset=utf-8" && mail.header("MIME-Version") == "1.0")
        #expect(mail.header("Date") != nil && mail.header("Message-ID")?.hasSuffix(">") == true)
        #expect(
            mail.body.hasPrefix("pgkeep: backup of \(database) FAILED\n\nDatabase: \(database)\nHost: "), "\(mail.body)"
        )
        #expect(
            mail.body.contains("\nError:\ncannot connect to ")
                && mail.body.contains("The run's log (its last lines):\n"))
    }

    /// A run with a database that fails among one that works: one alert per failed database, and
    /// none for the run's outcome, which they already heard.
    @Test func aRunAlertsEachFailedDatabaseOnce() throws {
        let http = try Recorder()
        let smtp = try MailRecorder()
        let dir = TestServer.tempDir("alerts-run")
        let config = dir + "/pgkeep.toml"
        let toml = """
            [backup]
            dir = "backups"
            databases = ["\(TestServer.pagila)", "no_such_db_alerts"]

            [monitor]
            slack = "\(http.url("/ok/slack"))"
            email = ["ops@example.com"]
            email_sendmail = "\(try smtp.sendmail(in: dir))"
            """
        try FileSystem.writePrivateFile(config, data: Data(toml.utf8))
        let r = try TestServer.pgkeep(["run", "--config", config])
        #expect(r.status != 0 && r.stderr.contains("1 of 2 failed"), "\(r.stderr)")
        let slack = http.requests(under: "/ok/slack")
        #expect(slack.count == 1, "\(slack.map(\.body))")
        #expect(
            try slack.first.map { try Self.json($0)["text"] as? String }?.flatMap { $0 }?.hasPrefix(
                "pgkeep: run of no_such_db_alerts FAILED on ") == true)
        let mails = smtp.messages()
        #expect(
            mails.map { $0.header("Subject") } == ["[pgkeep] run of no_such_db_alerts FAILED (\(MonitorRequests.host))"]
        )
    }

    /// A verified backup: only the targets that asked for success hear it, with its size and duration.
    @Test func aSuccessReachesOnlyThoseThatAskAndCarriesTheSizes() throws {
        let http = try Recorder()
        let smtp = try MailRecorder()
        let dir = TestServer.tempDir("alerts-ok")
        let config = dir + "/pgkeep.toml"
        let toml = """
            [monitor]
            slack = "\(http.url("/ok/slack"))"
            discord = "\(http.url("/ok/discord"))"
            discord_states = ["success"]
            email = ["ops@example.com"]
            email_states = ["success"]
            email_sendmail = "\(try smtp.sendmail(in: dir))"
            """
        try FileSystem.writePrivateFile(config, data: Data(toml.utf8))
        let r = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir + "/b", "--config", config])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(http.requests(under: "/ok/slack").isEmpty, "slack hears failures and anomalies only")
        let manifest = try #require(try TestServer.manifests(dir + "/b/" + TestServer.pagila).first).manifest
        let discord = try Self.json(try #require(http.requests(under: "/ok/discord").first))
        let fields = (discord["embeds"] as? [[String: Any]])?.first?["fields"] as? [[String: Any]] ?? []
        let values = Dictionary(
            uniqueKeysWithValues: fields.map { ($0["name"] as? String ?? "", $0["value"] as? String) })
        #expect(values["Backup size"]??.contains("\\(\(manifest.size) bytes\\)") == true, "\(values)")
        #expect(values["Duration"] != nil && values["Path"] != nil)
        let mail = try #require(smtp.messages().first)
        #expect(mail.header("Subject")?.hasPrefix("[pgkeep] backup of \(TestServer.pagila) succeeded") == true)
        #expect(mail.body.contains("Backup size: ") && mail.body.contains("(\(manifest.size) bytes)\nDuration: "))
    }

    /// The HTTP rules hold for chats: retries on 5xx, a dead target skipped for the rest of the run,
    /// its URL (Telegram's token too) masked in the warning, and the run's outcome untouched.
    @Test func aFlakyOrDeadChatIsRetriedThenSkippedAndItsTokenMasked() throws {
        let http = try Recorder()
        let dir = TestServer.tempDir("alerts-retry")
        let (tokenPath, token) = try Self.tokenFile(in: dir)
        let config = dir + "/pgkeep.toml"
        let toml = """
            [monitor]
            slack = "\(http.url("/flaky2/slack"))"
            slack_states = ["start", "success"]
            discord = "\(http.url("/status500/discord/1/abc"))"
            discord_states = ["start", "success"]
            telegram_token_file = "\(tokenPath)"
            telegram_chat_id = "42"
            telegram_api = "\(http.url("/status500/tg"))"
            telegram_states = ["start", "success"]
            """
        try FileSystem.writePrivateFile(config, data: Data(toml.utf8))
        let r = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir + "/b", "--config", config])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(http.requests(under: "/flaky2/slack").count == 4, "start: 500, 500, 200; then success: 200")
        #expect(http.requests(under: "/status500/discord").count == 3, "3 tries for start, then skipped")
        #expect(http.requests(under: "/status500/tg/bot\(token)/sendMessage").count == 3)
        #expect(
            r.stderr.contains(
                "the discord endpoint http://127.0.0.1:\(http.port)/**** did not take the start event after 3 tries: "
                    + "HTTP 500; it is skipped for the rest of this run"), "\(r.stderr)")
        #expect(r.stderr.contains("the telegram endpoint http://127.0.0.1:\(http.port)/**** did not take"))
        #expect(!r.stderr.contains("slack"), "the flaky one got through: \(r.stderr)")
        #expect(!r.stderr.contains(token) && !r.stdout.contains(token) && !r.stderr.contains("/abc"))
    }

    /// A sendmail that fails, or hangs, is a warning: the run succeeds, within the timeout, and a
    /// hung program is stopped.
    @Test func aFailingOrHangingSendmailIsAWarning() throws {
        let dir = TestServer.tempDir("alerts-sendmail")
        let failing = dir + "/failing-sendmail"
        let hanging = dir + "/hanging-sendmail"
        try FileSystem.writePrivateFile(
            failing,
            data: Data("#!/bin/sh\ncat >/dev/null\necho 'relay.example: connection refused' >&2\nexit 1\n".utf8))
        try FileSystem.writePrivateFile(
            hanging, data: Data("#!/bin/sh\necho $$ > '\(dir)/hang.pid'\nexec sleep 60\n".utf8))
        for script in [failing, hanging] { chmod(script, 0o700) }
        func config(_ sendmail: String) throws -> String {
            let path = dir + "/\(URL(fileURLWithPath: sendmail).lastPathComponent).toml"
            let toml =
                "[monitor]\ntimeout = \"2s\"\nemail = [\"ops@example.com\"]\nemail_states = [\"success\"]\n"
                + "email_sendmail = \"\(sendmail)\"\n"
            try FileSystem.writePrivateFile(path, data: Data(toml.utf8))
            return path
        }
        let failed = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir + "/b", "--config", try config(failing),
        ])
        #expect(failed.status == 0, "\(failed.stderr)")
        #expect(
            failed.stderr.contains(
                "warning: the email to ops@example.com (\(failing)) did not go out for the success event: \(failing) -t -i "
                    + "exited with status 1: relay.example: connection refused; email is skipped"), "\(failed.stderr)")
        let started = Date()
        let plain = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir + "/b"])
        let base = Date().timeIntervalSince(started)
        #expect(plain.status == 0)
        let hangStart = Date()
        let hung = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir + "/b", "--config", try config(hanging),
        ])
        let withHang = Date().timeIntervalSince(hangStart)
        #expect(hung.status == 0, "\(hung.stderr)")
        #expect(hung.stderr.contains("\(hanging) -t -i did not finish within 2s and was stopped"), "\(hung.stderr)")
        #expect(withHang < base + 2 + 3, "a hung sendmail costs about its timeout: \(withHang) s vs \(base) s")
        let pid = Int32(
            String(decoding: FileManager.default.contents(atPath: dir + "/hang.pid") ?? Data(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(pid.map { !TestServer.alive($0) } == true, "the hung sendmail (pid \(pid ?? 0)) was stopped")
    }
}
