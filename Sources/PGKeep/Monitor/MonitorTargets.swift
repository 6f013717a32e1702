import Foundation

/// Where pgkeep reports its runs (`[monitor]` in the config, `--healthchecks` and friends on the
/// command line): dead-man's-switch services, notification endpoints, chats and email.
public struct MonitorTargets: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case healthchecks
        case uptimeKuma = "uptime_kuma"
        case webhook
        case ntfy
        case slack, discord, teams, telegram
        case email

        /// The states a target hears by default.
        var defaultStates: Set<MonitorEvent.State> {
            switch self {
            case .healthchecks, .webhook: return Set(MonitorEvent.State.allCases)
            case .uptimeKuma: return [.success, .failure, .anomaly]
            case .ntfy, .slack, .discord, .teams, .telegram, .email: return [.failure, .anomaly]
            }
        }

        /// Whether the target hears each database's outcome (else the run's only).
        var hearsEachDatabase: Bool { ![.healthchecks, .uptimeKuma].contains(self) }
    }

    public struct Target: Sendable, Equatable {
        public var kind: Kind
        public var url: String
        public var states: Set<MonitorEvent.State>
        /// Extra request headers (the webhook's), values already read from their files.
        public var headers: [String: String] = [:]
        /// Telegram's bot and chat (`url` is then the API's base URL).
        public var telegram: TelegramChat?
        /// Email's recipients, sender and sendmail command (`url` is then empty).
        public var mail: MailSettings?

        public init(
            kind: Kind, url: String, states: Set<MonitorEvent.State>? = nil, headers: [String: String] = [:],
            telegram: TelegramChat? = nil, mail: MailSettings? = nil
        ) {
            self.kind = kind
            self.url = url
            self.states = states ?? kind.defaultStates
            self.headers = headers
            self.telegram = telegram
            self.mail = mail
        }

        /// The target for messages: a URL's scheme and host only, the path (which carries the
        /// token: a webhook's, Telegram's `/bot<token>`) masked; for email, the recipients and the
        /// program.
        public var display: String {
            guard let mail else { return Self.mask(url) }
            return "to \(mail.to.joined(separator: ", ")) (\(mail.sendmail.first ?? "sendmail"))"
        }

        static func mask(_ url: String) -> String {
            guard let parts = URLComponents(string: url), let host = parts.host else { return "****" }
            return "\(parts.scheme ?? "http")://\(host)\(parts.port.map { ":\($0)" } ?? "")/****"
        }
    }

    public var targets: [Target] = []
    /// The most one event may cost a target, all tries included.
    public var timeout: TimeInterval = 10
    public var tries = 3

    public init(targets: [Target] = [], timeout: TimeInterval = 10) {
        self.targets = targets
        self.timeout = timeout
    }

    public var isEmpty: Bool { targets.isEmpty }

    /// Parses a state list as the config writes it (`["start", "failure"]`).
    public static func states(_ names: [String], key: String) throws -> Set<MonitorEvent.State> {
        try Set(
            names.map { name in
                guard let state = MonitorEvent.State(rawValue: name) else {
                    throw PGKeepError(
                        .usage,
                        "\(key): unknown state \"\(name)\"; use start, success, failure or anomaly")
                }
                return state
            })
    }

    /// `Name: value` headers; `Name: @/path` reads the value from a file (for tokens).
    public static func headers(_ lines: [String], key: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else {
                throw PGKeepError(.usage, "\(key): \"\(line.prefix(20))…\" is not \"Name: value\"")
            }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("@") {
                let path = String(value.dropFirst())
                guard let secret = FileSystem.readSecret(path) else {
                    throw PGKeepError(.usage, "\(key): cannot read the value of header \(name) from \(path)")
                }
                value = secret
            }
            Redaction.shared.register(value)
            out[name] = value
        }
        return out
    }
}

/// A Telegram bot's token (a secret, read from `telegram_token_file`) and the chat it posts to.
/// Shown, it is masked: the token belongs in the request's path only.
public struct TelegramChat: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    public var token: String
    public var chatID: String

    public init(token: String, chatID: String) {
        self.token = token
        self.chatID = chatID
    }

    public var description: String { "TelegramChat(token: ****, chatID: \(chatID))" }
    public var customMirror: Mirror { Mirror(self, children: ["chatID": chatID]) }
}

/// Where alert emails go and how: the recipients, the sender, the subject's prefix, and the
/// sendmail-compatible program (its words; `-t -i` are added when missing).
public struct MailSettings: Sendable, Equatable {
    public var to: [String]
    public var from: String
    public var subjectPrefix: String
    public var sendmail: [String]

    public init(to: [String], from: String, subjectPrefix: String = "[pgkeep]", sendmail: [String] = ["sendmail"]) {
        self.to = to
        self.from = from
        self.subjectPrefix = subjectPrefix
        self.sendmail = sendmail
    }
}
