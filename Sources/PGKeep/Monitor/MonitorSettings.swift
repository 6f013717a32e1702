import Foundation

/// What the command line says about monitoring: each URL over the config's `[monitor]`.
public struct MonitorFlags: Sendable {
    public var healthchecks: String?
    public var uptimeKuma: String?
    public var webhook: String?
    public var ntfy: String?
    public var metricsFile: String?

    public init() {}
}

extension Settings {
    /// The monitoring targets: each flag over the config's `[monitor]` URL, with the config's
    /// states, webhook headers and timeout.
    public func monitorTargets(_ flags: MonitorFlags) throws -> MonitorTargets {
        var targets = MonitorTargets(timeout: config?.monitorTimeout ?? 10)
        let given: [(MonitorTargets.Kind, String?)] = [
            (.healthchecks, flags.healthchecks), (.uptimeKuma, flags.uptimeKuma), (.webhook, flags.webhook),
            (.ntfy, flags.ntfy),
        ]
        for (kind, flag) in given {
            guard let url = flag ?? config?.monitorURLs[kind.rawValue] else { continue }
            guard let parts = URLComponents(string: url), ["http", "https"].contains(parts.scheme ?? ""),
                parts.host != nil
            else {
                throw PGKeepError(
                    .usage, "the \(kind.rawValue) URL is not an http(s) URL: \(MonitorTargets.Target.mask(url))")
            }
            let states = try config?.monitorStates[kind.rawValue].map {
                try MonitorTargets.states($0, key: "monitor.\(kind.rawValue)_states")
            }
            let headers =
                kind == .webhook
                ? try MonitorTargets.headers(config?.webhookHeaders ?? [], key: "monitor.webhook_headers") : [:]
            targets.targets.append(.init(kind: kind, url: url, states: states, headers: headers))
        }
        return targets
    }

    /// `--metrics-file`, else the config's `[metrics] textfile`.
    public func metricsFile(_ flags: MonitorFlags) -> String? {
        (flags.metricsFile ?? config?.metricsTextfile).map(FileSystem.absolutePath)
    }
}
