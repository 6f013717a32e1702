import Foundation

/// The guard against shrinking backups: a new backup is compared with the previous backups of the
/// same database and format that were normal (not anomalous themselves, or accepted), so that a
/// run of empty dumps never becomes the new normal. It is an anomaly when its size is below
/// `minSizeRatio` of the median of the last 5 normal backups, or (both with `--row-counts`) when a
/// table lost more than `maxRowLoss` of its rows or disappeared. The backup is kept either way. An
/// accepted shrink is the new normal: backups before it are not compared with.
public struct ShrinkGuard: Sendable, Equatable {
    public var minSizeRatio = 0.5
    public var maxRowLoss = 0.5
    /// The shrink is intended: recorded, not an anomaly.
    public var accept = false
    /// How many normal backups the size median looks back over.
    static let window = 5

    public init(minSizeRatio: Double = 0.5, maxRowLoss: Double = 0.5, accept: Bool = false) {
        self.minSizeRatio = minSizeRatio
        self.maxRowLoss = maxRowLoss
        self.accept = accept
    }

    /// Marks `manifest` with what it lost against the normal backups before it in `directory`.
    public func mark(_ manifest: inout Manifest, directory: String) {
        guard let scan = try? CatalogScan.scan(directory, database: manifest.database) else { return }
        let earlier = scan.backups.filter {
            // (The new backup is not among them yet: it is still under its temporary name, and
            // its final name may differ from `manifest.file` by a sequence number.)
            $0.manifest.format == manifest.format && !$0.manifest.isAnomalous
        }.sorted { ($0.name.time, $0.name.sequence) > ($1.name.time, $1.name.sequence) }
        // An accepted shrink starts a new normal: nothing before it is compared with. Backups
        // after it carry its name on while older ones are kept, so its pruning changes nothing.
        func order(_ name: BackupName) -> (Date, Int) { (name.time, name.sequence) }
        let cut = earlier.compactMap { b -> BackupName? in
            b.manifest.shrinkAccepted == true ? b.name : b.manifest.shrinkBaseline.flatMap(BackupName.parse)
        }.max { order($0) < order($1) }
        let since = cut.map { c in earlier.filter { order($0.name) >= order(c) } } ?? earlier
        if let cut, earlier.contains(where: { order($0.name) < order(cut) }) { manifest.shrinkBaseline = cut.fileName }
        let normal = since.prefix(Self.window)
        var found =
            Self.sizeAnomaly(manifest.size, previous: normal.map(\.manifest.size), ratio: minSizeRatio)
            .map { [$0] } ?? []
        if let rows = manifest.rowCounts,
            let reference = normal.lazy.compactMap({ try? Manifest.load(path: $0.manifestPath) })
                .first(where: { $0.rowCounts != nil }),
            let before = reference.rowCounts
        {
            found += Self.rowAnomalies(rows, before: before, maxLoss: maxRowLoss, reference: reference.file)
        }
        guard !found.isEmpty else { return }
        manifest.anomalies = found
        if accept { manifest.shrinkAccepted = true }
    }

    static func sizeAnomaly(_ size: Int64, previous: [Int64], ratio: Double) -> String? {
        guard !previous.isEmpty else { return nil }
        let sorted = previous.sorted()
        let mid = sorted.count / 2
        let median = sorted.count % 2 == 1 ? Double(sorted[mid]) : Double(sorted[mid - 1] + sorted[mid]) / 2
        guard median > 0, Double(size) < ratio * median else { return nil }
        let percent = Int((Double(size) / median * 100).rounded())
        return "size \(ByteCount.text(size)) is \(percent) % of the median \(ByteCount.text(Int64(median))) "
            + "of the last \(previous.count) normal backups"
    }

    static func rowAnomalies(_ rows: [String: Int], before: [String: Int], maxLoss: Double, reference: String)
        -> [String]
    {
        before.keys.sorted().compactMap { table in
            let was = before[table] ?? 0
            guard let now = rows[table] else { return "table \(table) disappeared (had \(was) rows in \(reference))" }
            guard was > 0, Double(was - now) > maxLoss * Double(was) else { return nil }
            let lost = Int((Double(was - now) / Double(was) * 100).rounded())
            return "table \(table) lost \(lost) % of its rows (\(was) → \(now))"
        }
    }
}
