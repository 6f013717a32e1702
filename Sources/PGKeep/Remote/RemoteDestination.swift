import Foundation

/// One offsite destination of the config (`[[remote]]`, or the single `[remote]`), or one that
/// `--remote` names: every backup goes to each. Its retention is the config's `[retention]` with
/// the keys of its own `[remote.retention]` over it, and the command's `--keep-*` flags over both.
public struct RemoteDestination: Sendable, Equatable {
    /// How list, status, metrics (`destination` label) and messages name it: `name`, else the target.
    public var name: String
    /// `REMOTE:bucket/prefix`.
    public var target: String
    /// The local copy goes once every destination has it checked and one of them says so.
    public var remoteOnly: Bool
    /// The keep_* counts its `[remote.retention]` sets (nil: none).
    public var retention: RetentionFlags?

    public init(name: String? = nil, target: String, remoteOnly: Bool = false, retention: RetentionFlags? = nil) {
        self.name = name ?? target
        self.target = target
        self.remoteOnly = remoteOnly
        self.retention = retention
    }
}

/// A destination with its store and its retention, ready to use.
public struct Destination: Sendable {
    public var config: RemoteDestination
    public var store: any RemoteStore
    /// What a prune of it keeps: flags > its `[remote.retention]` > `[retention]` > the defaults.
    public var policy: RetentionPolicy

    public var name: String { config.name }

    public init(_ config: RemoteDestination, store: any RemoteStore, policy: RetentionPolicy = RetentionPolicy()) {
        self.config = config
        self.store = store
        self.policy = policy
    }
}

extension ConfigReader {
    /// `[[remote]]` elements: each a table of `target` (required), `name`, `remote_only` and a
    /// `[remote.retention]` of keep_* counts. Names are unique; so are targets.
    func destinations() throws -> [RemoteDestination]? {
        guard let elements = root["remote"]?.array else { return nil }
        var out: [RemoteDestination] = []
        for (index, element) in elements.enumerated() {
            let label = "remote (destination \(index + 1))"
            let (table, sub) = try scopedElement(element, of: "remote", label: label, keys: RemoteDestination.keys)
            guard let target = try sub.string("remote.target") else {
                throw fail("remote", "\(label) needs target = \"REMOTE:bucket/prefix\"")
            }
            let retention = table["retention"] == nil ? nil : try sub.retentionFlags(label: label, table: "remote")
            let destination = RemoteDestination(
                name: try sub.string("remote.name"), target: target,
                remoteOnly: try sub.bool("remote.remote_only") ?? false,
                retention: retention)
            if out.contains(where: { $0.name == destination.name || $0.target == destination.target }) {
                throw fail("remote", "\(label): two destinations share the name or target \"\(destination.name)\"")
            }
            out.append(destination)
        }
        return out
    }
}

extension RemoteDestination {
    static let keys = ["target", "name", "remote_only", "retention"]
}

extension ConfigReader {
    /// One element of an array of tables (`[[remote]]`, `[[server]]`): its table, checked against
    /// `keys`, and a reader scoped to it (its keys as `NAME.key`, its `[NAME.retention]` as `retention`).
    func scopedElement(_ element: TOMLValue, of name: String, label: String, keys: [String]) throws
        -> (TOMLTable, ConfigReader)
    {
        guard let table = element.table else { throw fail(name, "\(label) must be a table") }
        for key in table.keys where !keys.contains(key) {
            throw fail(
                name, "\(label): unknown key \(key)", hint: "[[\(name)]] accepts " + keys.joined(separator: ", "))
        }
        var scoped = TOMLTable()
        scoped.set(name, .table(table))
        if let retention = table["retention"] { scoped.set("retention", retention) }
        return (table, ConfigReader(root: scoped, locator: locator, path: path, base: base))
    }

    /// The keep_* counts of an element's `[TABLE.retention]` (this reader scoped to the element).
    func retentionFlags(label: String, table: String) throws -> RetentionFlags {
        guard let keys = root["retention"]?.table?.keys else {
            throw fail(table, "\(label): retention must be a table")
        }
        var policy = RetentionFlags()
        for key in keys {
            guard let n = try count("retention.\(key)") else { continue }
            switch key {
            case "keep_last": policy.last = n
            case "keep_hourly": policy.hourly = n
            case "keep_daily": policy.daily = n
            case "keep_weekly": policy.weekly = n
            case "keep_monthly": policy.monthly = n
            case "keep_yearly": policy.yearly = n
            default: throw fail(table, "\(label): [\(table).retention] has no key \(key)")
            }
        }
        return policy
    }
}
