import Foundation

/// How long a whole restore of a database's newest backup should take, from the drills of its
/// backups (each manifest's `drill`): the seconds per byte of the last three passed drills (their
/// median), times the newest backup's bytes (its uncompressed archive when known). A restore's
/// time grows with the data it writes and the indexes it builds, which grow with the archive, so a
/// drill of yesterday's backup forecasts today's; a schema that changed its shape (a new large
/// index) is not foreseen until the next drill.
public struct RestoreForecast: Sendable {
    /// `[status] rto`: the forecast must not exceed it.
    public var rto: TimeInterval?
    /// `[status] drill_max_age`: a passed drill no older than this (default 7 days when `rto` is set).
    public var drillMaxAge: TimeInterval?

    public init(rto: TimeInterval? = nil, drillMaxAge: TimeInterval? = nil) {
        self.rto = rto
        self.drillMaxAge = drillMaxAge
    }

    /// Manifests read per database while looking for drills (newest first).
    static let lookBack = 60

    func apply(to entry: StatusCheck.Entry, backups: [CatalogScan.Backup], now: Date) -> StatusCheck.Entry {
        var e = entry
        let mine = backups.filter {
            ($0.name.format == .globals ? BackupName.globalsDatabase : $0.name.database) == entry.database
        }.sorted(by: CatalogScan.Backup.newerFirst)
        guard let newest = mine.first, newest.name.format != .globals else { return e }
        var rates: [Double] = []
        var lastPassed: Date?
        for b in mine.prefix(Self.lookBack) {
            guard let drill = (try? Manifest.load(path: b.manifestPath))?.drill else { continue }
            let at = BackupName.parseISO(drill.at)
            if e.lastDrill == nil { e.lastDrill = at }
            guard drill.ok else { continue }
            if lastPassed == nil { lastPassed = at }
            if rates.count < 3, drill.bytes > 0 { rates.append(drill.seconds / Double(drill.bytes)) }
        }
        if !rates.isEmpty, let manifest = try? Manifest.load(path: newest.manifestPath) {
            let bytes = Double(manifest.uncompressedSize ?? manifest.size)
            e.forecast = (rates.sorted()[rates.count / 2] * bytes * 10).rounded() / 10
        }
        guard let rto else {
            if let maxAge = drillMaxAge, lastPassed.map({ now.timeIntervalSince($0) > maxAge }) ?? true {
                e.drillProblem = "no passed drill within \(DurationText.format(maxAge)) (drill_max_age)"
            }
            return e
        }
        let maxAge = drillMaxAge ?? 7 * 86400
        if let forecast = e.forecast, forecast > rto {
            e.drillProblem =
                "a restore would take about \(DurationText.format(forecast)), over the rto of \(DurationText.format(rto))"
        } else if lastPassed.map({ now.timeIntervalSince($0) > maxAge }) ?? true {
            e.drillProblem =
                "no passed drill within \(DurationText.format(maxAge)) (drill_max_age), so the rto of "
                + "\(DurationText.format(rto)) cannot be checked"
        }
        return e
    }
}
