import Foundation

/// Where pgkeep reports its runs (`[monitor]` in the config, `--healthchecks` and friends on the
/// command line): dead-man's-switch services and notification endpoints.
public struct MonitorTargets: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case healthchecks
        case uptimeKuma = "uptime_kuma"
        case webhook
        case ntfy

        /// The states a target hears by default.
        var defaultStates: Set<MonitorEvent.State> {
            switch self {
            case .healthchecks, .webhook: return Set(MonitorEvent.State.allCases)
            case .uptimeKuma: return [.success, .failure, .anomaly]
            case .ntfy: return [.failure, .anomaly]
            }
        }
    }

    public struct Target: Sendable, Equatable {
        public var kind: Kind
        public var url: String
        public var states: Set<MonitorEvent.State>
        /// Extra request headers (the webhook's), values already read from their files.
        public var headers: [String: String] = [:]

        public init(kind: Kind, url: String, states: Set<MonitorEvent.State>? = nil, headers: [String: String] = [:]) {
            self.kind = kind
            self.url = url
            self.states = states ?? kind.defaultStates
            self.headers = headers
        }

        /// The URL for messages: scheme and host only, the path (which carries the token) masked.
        public var display: String { Self.mask(url) }

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

/// One thing a monitoring target hears about.
public struct MonitorEvent: Sendable {
    public enum State: String, Sendable, CaseIterable, Comparable {
        case start, success, failure, anomaly

        public static func < (a: State, b: State) -> Bool { a.rank < b.rank }
        /// How bad: start < success < anomaly < failure (a run's outcome is the worst it saw).
        var rank: Int {
            switch self {
            case .start: 0
            case .success: 1
            case .anomaly: 2
            case .failure: 3
            }
        }
    }

    public var state: State
    /// What ran: "backup", "run", "prune", "verify", "snapshot".
    public var command: String
    public var database: String?
    public var path: String?
    public var size: Int64?
    public var durationSeconds: Double?
    public var error: String?
    /// What the run printed so far (the log's tail), for healthchecks' request body.
    public var log: String = ""

    public init(
        state: State, command: String, database: String? = nil, path: String? = nil, size: Int64? = nil,
        durationSeconds: Double? = nil, error: String? = nil
    ) {
        self.state = state
        self.command = command
        self.database = database
        self.path = path
        self.size = size
        self.durationSeconds = durationSeconds
        self.error = error
    }

    /// A one-line summary (ntfy's text, Uptime Kuma's msg).
    public var summary: String {
        let what = database.map { "\(command) of \($0)" } ?? command
        switch state {
        case .start: return "pgkeep: \(what) started"
        case .success: return "pgkeep: \(what) succeeded" + (path.map { ": \($0)" } ?? "")
        case .failure: return "pgkeep: \(what) FAILED" + (error.map { ": \($0)" } ?? "")
        case .anomaly: return "pgkeep: \(what): ANOMALY" + (error.map { ": \($0)" } ?? "")
        }
    }
}
