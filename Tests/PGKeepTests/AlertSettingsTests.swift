import Foundation
import Testing

@testable import PGKeep

/// `[monitor]`'s chat and email keys become targets; what is missing or malformed is a usage
/// error that names the key, and Telegram's token stays out of every message.
@Suite struct AlertSettingsTests {
    static func targets(_ toml: String) throws -> MonitorTargets {
        let config = try PGKeepConfig.parse(toml, path: "/etc/pgkeep/c.toml")
        return try Settings(environment: [:], config: config).monitorTargets(MonitorFlags())
    }

    static func tokenFile(_ token: String) throws -> String {
        let path = NSTemporaryDirectory() + "pgkeep-tg-\(UUID().uuidString.prefix(8))"
        try FileSystem.writePrivateFile(path, data: Data((token + "\n").utf8))
        return path
    }

    @Test func chatsTelegramAndEmailWithTheirDefaults() throws {
        let file = try Self.tokenFile("123456:AAH-secret_token")
        let t = try Self.targets(
            """
            [monitor]
            slack = "https://hooks.slack.com/services/T0/B0/XYZ"
            discord = "https://discord.com/api/webhooks/1/abc"
            teams = "https://example.webhook.office.com/webhookb2/x"
            teams_states = ["success", "failure"]
            telegram_token_file = "\(file)"
            telegram_chat_id = "-100123"
            email = ["ops@example.com", "Dba <dba@example.com>"]
            email_sendmail = "msmtp -C '/etc/pgkeep/my msmtprc'"
            """)
        #expect(t.targets.map(\.kind) == [.slack, .discord, .teams, .telegram, .email])
        #expect(t.targets[0].states == [.failure, .anomaly] && t.targets[2].states == [.success, .failure])
        let telegram = t.targets[3]
        #expect(telegram.url == "https://api.telegram.org" && telegram.telegram?.chatID == "-100123")
        #expect(telegram.telegram?.token == "123456:AAH-secret_token")
        #expect(telegram.display == "https://api.telegram.org/****")
        #expect(!"\(telegram)".contains("secret_token") && !String(reflecting: telegram).contains("secret_token"))
        let request = try #require(
            MonitorRequests.request(for: MonitorEvent(state: .failure, command: "run"), to: telegram))
        #expect(request.url?.absoluteString == "https://api.telegram.org/bot123456:AAH-secret_token/sendMessage")
        #expect(
            MonitorTargets.Target.mask(in: "failed: \(request.url!.absoluteString)")
                == "failed: https://api.telegram.org/****")
        let mail = try #require(t.targets[4].mail)
        #expect(mail.sendmail == ["msmtp", "-C", "/etc/pgkeep/my msmtprc"] && mail.subjectPrefix == "[pgkeep]")
        #expect(mail.from == "pgkeep@" + MailMessage.domain(MonitorRequests.host))
        #expect(t.targets[4].display == "to ops@example.com, Dba <dba@example.com> (msmtp)")
    }

    @Test func aFlagWinsOverTheConfigsURL() throws {
        let config = try PGKeepConfig.parse(
            "[monitor]\nslack = \"https://hooks.slack.com/services/FILE\"\nslack_states = [\"success\"]\n",
            path: "/etc/pgkeep/c.toml")
        var flags = MonitorFlags()
        flags.slack = "https://hooks.slack.com/services/FLAG"
        flags.teams = "https://example.webhook.office.com/x"
        let t = try Settings(environment: [:], config: config).monitorTargets(flags)
        #expect(
            t.targets.map(\.url) == ["https://hooks.slack.com/services/FLAG", "https://example.webhook.office.com/x"])
        #expect(t.targets.map(\.states) == [[.success], [.failure, .anomaly]])
        flags.discord = "discord.com/api/webhooks/1/secret"
        #expect(throws: PGKeepError.self) { try Settings(environment: [:], config: nil).monitorTargets(flags) }
    }

    @Test func aChatIDFromTheEnvironmentIsANumber() throws {
        let file = try Self.tokenFile("1:abc")
        let env = ["PGKEEP_MONITOR_TELEGRAM_CHAT_ID": "-100123", "PGKEEP_MONITOR_TELEGRAM_TOKEN_FILE": file]
        let config = try #require(try PGKeepConfig.load(path: nil, environment: env))
        let t = try Settings(environment: env, config: config).monitorTargets(MonitorFlags())
        #expect(t.targets.first?.telegram?.chatID == "-100123")
    }

    @Test func whatIsMissingOrMalformedIsAUsageErrorNamingTheKey() throws {
        let file = try Self.tokenFile("1:abc")
        let bad = try Self.tokenFile("1:abc/../../x?y")
        let cases: [(String, String)] = [
            ("telegram_chat_id = \"1\"", "needs both telegram_token_file and telegram_chat_id"),
            ("telegram_token_file = \"\(file)\"", "needs both"),
            ("telegram_token_file = \"/nonexistent/tg\"\ntelegram_chat_id = \"1\"", "cannot read the bot's token"),
            ("telegram_token_file = \"\(bad)\"\ntelegram_chat_id = \"1\"", "does not hold a bot token"),
            ("slack = \"ftp://x/y\"", "the slack URL is not an http(s) URL"),
            ("email = [\"ops@example.com\\r\\nBcc: x@y\"]", "monitor.email: \"ops@example.com  Bcc: x@y\" is not"),
            ("email = [\"a@b, c@d\"]", "is not an email address"),
            ("email_from = \"x@y\"", "but no email"),
            ("email = [\"a@b\"]\nemail_states = [\"sent\"]", "monitor.email_states: unknown state \"sent\""),
        ]
        for (toml, message) in cases {
            #expect(throws: PGKeepError.self, "\(toml)") {
                do { _ = try Self.targets("[monitor]\n" + toml) } catch let e as PGKeepError {
                    #expect(e.message.contains(message), "\(toml): \(e.message)")
                    #expect(!e.message.contains("abc/../"), "the token file's content is never shown")
                    throw e
                }
            }
        }
        #expect(throws: PGKeepError.self) {
            try PGKeepConfig.parse("[monitor]\nemail_sendmail = \"\"", path: "/c.toml")
        }
    }
}
