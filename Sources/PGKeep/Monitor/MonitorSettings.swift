import Foundation

/// What the command line says about monitoring: each URL over the config's `[monitor]`.
public struct MonitorFlags: Sendable {
    public var healthchecks: String?
    public var uptimeKuma: String?
    public var webhook: String?
    public var ntfy: String?
    public var slack: String?
    public var discord: String?
    public var teams: String?
    public var metricsFile: String?

    public init() {}
}

extension Settings {
    /// The monitoring targets: each flag over the config's `[monitor]` URL, with the config's
    /// states, webhook headers and timeout; then Telegram and email, from the config only (a bot
    /// token has no place in argv).
    public func monitorTargets(_ flags: MonitorFlags) throws -> MonitorTargets {
        var targets = MonitorTargets(timeout: config?.monitorTimeout ?? 10)
        let given: [(MonitorTargets.Kind, String?)] = [
            (.healthchecks, flags.healthchecks), (.uptimeKuma, flags.uptimeKuma), (.webhook, flags.webhook),
            (.ntfy, flags.ntfy), (.slack, flags.slack), (.discord, flags.discord), (.teams, flags.teams),
        ]
        for (kind, flag) in given {
            guard let url = flag ?? config?.monitorURLs[kind.rawValue] else { continue }
            try Self.checkHTTP(url, key: kind.rawValue)
            let headers =
                kind == .webhook
                ? try MonitorTargets.headers(config?.webhookHeaders ?? [], key: "monitor.webhook_headers") : [:]
            targets.targets.append(.init(kind: kind, url: url, states: try monitorStates(kind), headers: headers))
        }
        if let telegram = try telegramTarget() { targets.targets.append(telegram) }
        if let email = try emailTarget() { targets.targets.append(email) }
        return targets
    }

    /// The config's `<kind>_states`, nil for the kind's default.
    func monitorStates(_ kind: MonitorTargets.Kind) throws -> Set<MonitorEvent.State>? {
        try config?.monitorStates[kind.rawValue].map {
            try MonitorTargets.states($0, key: "monitor.\(kind.rawValue)_states")
        }
    }

    static func checkHTTP(_ url: String, key: String) throws {
        guard let parts = URLComponents(string: url), ["http", "https"].contains(parts.scheme ?? ""), parts.host != nil
        else {
            throw PGKeepError(.usage, "the \(key) URL is not an http(s) URL: \(MonitorTargets.Target.mask(url))")
        }
    }

    /// `--metrics-file`, else the config's `[metrics] textfile`.
    public func metricsFile(_ flags: MonitorFlags) -> String? {
        (flags.metricsFile ?? config?.metricsTextfile).map(FileSystem.absolutePath)
    }
}

extension Settings {
    /// Telegram, when `telegram_token_file` is set: the token read from it (and registered as a
    /// secret), the chat, the API's base URL (default https://api.telegram.org).
    func telegramTarget() throws -> MonitorTargets.Target? {
        guard let config, config.telegramTokenFile != nil || config.telegramChatID != nil else { return nil }
        guard let file = config.telegramTokenFile, let chat = config.telegramChatID, !chat.isEmpty else {
            throw PGKeepError(
                .usage, "[monitor] Telegram needs both telegram_token_file and telegram_chat_id",
                hint: "set telegram_token_file to a file holding the bot's token and telegram_chat_id to the chat")
        }
        guard let token = FileSystem.readSecret(file), !token.isEmpty else {
            throw PGKeepError(
                .usage, "monitor.telegram_token_file: cannot read the bot's token from \(file)",
                hint: "the file must exist, be readable by pgkeep's user and hold the token BotFather gave")
        }
        // It goes into the request's path: anything but a token's characters would change the URL.
        guard
            token.unicodeScalars.allSatisfy({
                $0.isASCII && ($0.properties.isAlphabetic || "0123456789:_-".unicodeScalars.contains($0))
            })
        else {
            throw PGKeepError(
                .usage, "monitor.telegram_token_file: \(file) does not hold a bot token (digits, a colon, letters)")
        }
        let api = config.telegramAPI ?? "https://api.telegram.org"
        try Self.checkHTTP(api, key: "telegram_api")
        return .init(
            kind: .telegram, url: api, states: try monitorStates(.telegram),
            telegram: TelegramChat(token: token, chatID: chat))
    }

    /// Email, when `email` lists recipients: from `email_from` (default pgkeep@HOST), through
    /// `email_sendmail` (default sendmail).
    func emailTarget() throws -> MonitorTargets.Target? {
        guard let config else { return nil }
        let to = config.email ?? []
        guard !to.isEmpty else {
            if config.emailFrom != nil || config.emailSendmail != nil || config.emailSubjectPrefix != nil {
                throw PGKeepError(
                    .usage, "[monitor] email_from, email_sendmail or email_subject_prefix is set, but no email",
                    hint: "list the recipients: email = [\"ops@example.com\"]")
            }
            return nil
        }
        let from = config.emailFrom ?? "pgkeep@" + MailMessage.domain(MonitorRequests.host)
        for (key, address) in to.map({ ("monitor.email", $0) }) + [("monitor.email_from", from)] {
            let printable = address.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }
            guard printable, address.contains("@"), !address.contains(",") else {
                throw PGKeepError(
                    .usage, "\(key): \"\(MailMessage.headerText(address))\" is not an email address",
                    hint: "write one address per string, e.g. \"ops@example.com\" or \"Ops <ops@example.com>\"")
            }
        }
        let prefix = MailMessage.headerText(config.emailSubjectPrefix ?? "[pgkeep]")
        return .init(
            kind: .email, url: "", states: try monitorStates(.email),
            mail: MailSettings(
                to: to, from: from, subjectPrefix: prefix, sendmail: config.emailSendmail ?? ["sendmail"]))
    }
}
