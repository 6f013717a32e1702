import Foundation
import Testing

@testable import PGKeep

/// The chat and email messages: each service's format, and text from a database or an error
/// (markup, mentions, CR/LF, non-ASCII) escaped for it.
@Suite struct AlertMessageTests {
    static let hostile = "shop<script>&@everyone\r\nBcc: x@evil.example é"
    static let failure = MonitorEvent(
        state: .failure, command: "backup", database: hostile,
        error: "pg_dump failed: <b>bold</b> & ```fence```\nline 2 *not bold* @here\nline 3")
    static let success = MonitorEvent(
        state: .success, command: "run", database: "shop", path: "/b/shop/shop.dump.gz", size: 12_345_678,
        durationSeconds: 83)

    static func object(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func slackEscapesMrkdwnAndKeepsTheCodeBlockClosed() throws {
        let body = try Self.object(ChatMessages.slack(Self.failure, host: "db1"))
        #expect(
            body["text"] as? String
                == "pgkeep: backup of shop&lt;script&gt;&amp;@everyone  Bcc: x@evil.example é FAILED on db1")
        let blocks = try #require(body["blocks"] as? [[String: Any]])
        #expect(blocks.map { $0["type"] as? String } == ["header", "section", "section", "context"])
        let header = try #require(blocks[0]["text"] as? [String: Any])
        #expect(header["type"] as? String == "plain_text" && (header["text"] as? String)?.contains("<script>") == true)
        let fields = try #require(blocks[1]["fields"] as? [[String: String]])
        #expect(fields.first?["text"] == "*Database*\nshop&lt;script&gt;&amp;@everyone  Bcc: x@evil.example é")
        #expect(fields.contains { $0["text"] == "*Host*\ndb1" })
        let code = try #require((blocks[2]["text"] as? [String: Any])?["text"] as? String)
        #expect(code.hasPrefix("```pg_dump failed: &lt;b&gt;bold&lt;/b&gt; &amp; `\u{200B}`\u{200B}`\u{200B}fence"))
        #expect(code.hasSuffix("line 3```") && code.components(separatedBy: "```").count == 3, "\(code)")
    }

    @Test func discordTurnsMentionsOffAndEscapesMarkdown() throws {
        let body = try Self.object(ChatMessages.discord(Self.failure, host: "db1"))
        #expect((body["allowed_mentions"] as? [String: Any])?["parse"] as? [String] == [])
        let content = try #require(body["content"] as? String)
        #expect(content.contains(#"shop\<script\>&\@everyone"#), "\(content)")
        let embed = try #require((body["embeds"] as? [[String: Any]])?.first)
        #expect(embed["color"] as? Int == 0xE0_1E5A)
        #expect((embed["title"] as? String)?.hasPrefix("pgkeep: backup of shop\\<script\\>") == true)
        let description = try #require(embed["description"] as? String)
        #expect(description.hasPrefix("```\npg_dump failed: <b>bold</b> & `\u{200B}`\u{200B}`\u{200B}fence"))
        #expect(description.hasSuffix("line 3\n```") && description.components(separatedBy: "```").count == 3)
        let fields = try #require(embed["fields"] as? [[String: Any]])
        #expect(fields.map { $0["name"] as? String } == ["Database", "Host", "Command"])
        let sizes = try #require(
            (try Self.object(ChatMessages.discord(Self.success, host: "h"))["embeds"] as? [[String: Any]])?.first?[
                "fields"] as? [[String: Any]])
        let byName = Dictionary(
            uniqueKeysWithValues: sizes.map { ($0["name"] as? String ?? "", $0["value"] as? String) })
        #expect(byName["Backup size"] == "12.3 MB \\(12345678 bytes\\)" && byName["Duration"] == "1m23s")
        #expect(byName["Path"] == "/b/shop/shop.dump.gz", "\(byName)")
    }

    @Test func teamsIsAnAdaptiveCardOfLiteralTextRuns() throws {
        let body = try Self.object(ChatMessages.teams(Self.failure, host: "db1"))
        #expect(body["type"] as? String == "message")
        let attachment = try #require((body["attachments"] as? [[String: Any]])?.first)
        #expect(attachment["contentType"] as? String == "application/vnd.microsoft.card.adaptive")
        let card = try #require(attachment["content"] as? [String: Any])
        #expect(card["type"] as? String == "AdaptiveCard" && card["version"] as? String == "1.4")
        let blocks = try #require(card["body"] as? [[String: Any]])
        #expect(blocks.allSatisfy { $0["type"] as? String == "RichTextBlock" }, "no markdown-reading TextBlock")
        let runs = blocks.flatMap { $0["inlines"] as? [[String: Any]] ?? [] }
        #expect(runs.allSatisfy { $0["type"] as? String == "TextRun" })
        let texts = runs.compactMap { $0["text"] as? String }
        #expect(texts.contains("shop<script>&@everyone  Bcc: x@evil.example é"), "text as it is: \(texts)")
        #expect(texts.contains("line 2 *not bold* @here") && texts.contains("line 3"))
    }

    @Test func telegramEscapesHTML() throws {
        let body = try Self.object(ChatMessages.telegram(Self.failure, host: "db1", chatID: "-100123"))
        #expect(body["chat_id"] as? String == "-100123" && body["parse_mode"] as? String == "HTML")
        let text = try #require(body["text"] as? String)
        #expect(
            text.hasPrefix("<b>pgkeep: backup of shop&lt;script&gt;&amp;@everyone  Bcc: x@evil.example é FAILED</b>\n"))
        #expect(text.contains("<pre>pg_dump failed: &lt;b&gt;bold&lt;/b&gt; &amp; ```fence```\nline 2"))
        // Only pgkeep's own tags remain: every < left opens <b>, </b>, <pre> or </pre>.
        let tags = text.components(separatedBy: "<").dropFirst().map { $0.prefix(while: { $0 != ">" }) }
        #expect(Set(tags).isSubset(of: ["b", "/b", "pre", "/pre"]), "\(tags)")
    }

    @Test func anEmailsHeadersCannotBeInjectedAndItsSubjectIsEncoded() throws {
        var event = Self.failure
        event.log = "2026-12-02 pgkeep: starting\r\n" + String(repeating: "é", count: 700) + "\n"
        let settings = MailSettings(to: ["ops@example.com", "Dba <dba@example.com>"], from: "pgkeep@db1.example")
        let text = MailMessage.text(
            event, settings: settings, host: "db1", date: Date(timeIntervalSince1970: 1_796_198_400), id: "abc")
        let parts = try #require(text.range(of: "\n\n"))
        let head = String(text[..<parts.lowerBound])
        let body = String(text[parts.upperBound...])
        // Each header line is a known header or the continuation of one: nothing the event holds adds one.
        let names = head.split(separator: "\n").filter { !$0.hasPrefix(" ") }.map { $0.prefix(while: { $0 != ":" }) }
        #expect(
            names == [
                "From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
                "Content-Transfer-Encoding", "Auto-Submitted",
            ], "\(head)")
        #expect(head.contains("To: ops@example.com, Dba <dba@example.com>\n"))
        #expect(head.contains("Date: Wed, 02 Dec 2026 08:00:00 +0000\n"), "\(head)")
        #expect(
            head.contains("Message-ID: <abc.pgkeep@db1>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"))
        #expect(!text.contains("\r") && !head.contains("\nBcc"))
        // The subject is not ASCII (é): RFC 2047 words, which decode to the one-line subject.
        let subject = head.components(separatedBy: "Subject: ")[1].components(separatedBy: "\nDate:")[0]
        let decoded = subject.components(separatedBy: "\n ").map { word -> String in
            let b64 = word.dropFirst("=?UTF-8?B?".count).dropLast(2)
            return String(decoding: Data(base64Encoded: String(b64)) ?? Data(), as: UTF8.self)
        }.joined()
        #expect(decoded == "[pgkeep] backup of shop<script>&@everyone  Bcc: x@evil.example é FAILED (db1)")
        #expect(subject.split(separator: "\n").allSatisfy { $0.count <= 76 })
        #expect(body.contains("Database: shop<script>&@everyone  Bcc: x@evil.example é\nHost: db1\n"))
        #expect(body.contains("Error:\npg_dump failed: <b>bold</b> & ```fence```\nline 2 *not bold* @here\nline 3\n"))
        #expect(body.contains("The run's log (its last lines):\n2026-12-02 pgkeep: starting\n"))
        #expect(body.split(separator: "\n").allSatisfy { $0.utf8.count <= 998 }, "the 1400-octet line is broken")
        #expect(body.hasSuffix("\n-- \npgkeep \(PGKeepVersion.string)\n"))
    }

    @Test func anASCIISubjectIsFoldedAtSpaces() {
        let long = MailMessage.encodedSubject(String(repeating: "word ", count: 30) + "end")
        #expect(long.contains("\n ") && !long.contains("=?"))
        #expect(long.replacingOccurrences(of: "\n ", with: " ") == String(repeating: "word ", count: 30) + "end")
        #expect(MailMessage.headerText("a\r\nb\tc\u{0}d") == "a  b c d")
    }

    @Test func anErrorsHeadIsItsFirstTenLines() {
        let long = MonitorEvent(
            state: .failure, command: "backup", error: (1...30).map { "line \($0)" }.joined(separator: "\n"))
        #expect(long.errorHead() == (1...10).map { "line \($0)" }.joined(separator: "\n") + "\n…")
        #expect(MonitorEvent(state: .failure, command: "backup", error: "one").errorHead() == "one")
        #expect(MonitorEvent(state: .failure, command: "backup").errorHead() == nil)
    }

    @Test func sendmailGetsDashTAndDashIOnceAndIsFoundOutsidePATH() throws {
        let env = ["PATH": "/nonexistent"]
        let sh = try #require(Sendmail.command(["sh", "-c", "cat"], environment: env))
        #expect(sh.executable == "/bin/sh" || sh.executable == "/usr/bin/sh")
        #expect(sh.arguments == ["-c", "cat", "-t", "-i"])
        #expect(try #require(Sendmail.command(["/bin/true", "-t"], environment: env)).arguments == ["-t", "-i"])
        #expect(Sendmail.command(["no-such-sendmail-here"], environment: env) == nil)
        let problem = try #require(Sendmail.send("x", words: ["no-such-sendmail-here"], within: 1))
        #expect(problem.contains("cannot run no-such-sendmail-here") && problem.contains("email_sendmail"))
    }

    /// A program that never reads its stdin, sent more than a pipe holds: stopped at the timeout.
    @Test func aSendmailThatNeverReadsIsStoppedAtTheTimeout() throws {
        let started = Date()
        let problem = Sendmail.send(String(repeating: "x", count: 300_000), words: ["sh", "-c", "sleep 60"], within: 1)
        #expect(
            problem?.hasSuffix("-c 'sleep 60' -t -i did not finish within 1s and was stopped") == true,
            "\(problem ?? "")")
        #expect(Date().timeIntervalSince(started) < 4)
    }

    @Test func theMailProgramGetsNoPassword() throws {
        Redaction.shared.register("mail-test-secret-42")
        let env = [
            "PATH": "/usr/bin:/bin", "HOME": "/root", "PGPASSWORD": "p", "DATABASE_URL": "postgresql://u:p@h/d",
            "MY_DB_PW": "mail-test-secret-42", "LANG": "C.UTF-8",
        ]
        let command = try #require(Sendmail.command(["sh"], environment: env))
        #expect(command.environment == ["PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"])
        #expect(command.arguments == ["-t", "-i"])
    }
}
