import PGKeep

/// What a listing printed, kept until the process exits: freeing 100,000 backups one object and
/// string at a time took about a third of a warm `list` of them; the exit frees them at once. Only
/// for commands that end when they have printed (`list`, `prune`), never in the daemon.
enum KeptUntilExit {
    private static let values = Locked<[Any]>([])

    static func keep(_ value: Any) { values.withLock { $0.append(value) } }
}
