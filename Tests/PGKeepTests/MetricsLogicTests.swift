import Foundation
import Testing

@testable import PGKeep

/// The Prometheus text, from entries made here (no directory, no server): one HELP and TYPE per
/// family, a sample per database and location, label values escaped.
@Suite struct MetricsLogicTests {
    static func entry(_ database: String, location: String, fresh: Bool, count: Int) -> StatusCheck.Entry {
        var e = StatusCheck.Entry(database: database, fresh: fresh)
        e.location = location
        e.count = count
        e.newestTime = fresh ? Date(timeIntervalSince1970: 1_796_000_000) : nil
        return e
    }

    @Test func oneFamilyHeaderAndASamplePerLocation() {
        let text = Metrics.text(
            entries: [
                Self.entry("shop", location: "local", fresh: true, count: 3),
                Self.entry("shop", location: "s3:b/p", fresh: true, count: 2),
                Self.entry("we\"ird\\db\n", location: "local", fresh: false, count: 0),
            ],
            attempts: ["shop": .init(time: "2026-12-02T03:00:00Z", success: false, durationSeconds: 4)])
        let lines = text.split(separator: "\n").map(String.init)
        for family in Set(lines.filter { $0.hasPrefix("# TYPE ") }) {
            #expect(lines.filter { $0 == family }.count == 1, "\(family) twice")
        }
        #expect(lines.contains("pgkeep_backups{database=\"shop\",location=\"local\"} 3"), "\(text)")
        #expect(lines.contains("pgkeep_backups{database=\"shop\",location=\"s3:b/p\"} 2"), "\(text)")
        #expect(lines.contains("pgkeep_last_attempt_success{database=\"shop\"} 0"), "\(text)")
        #expect(text.contains(#"database="we\"ird\\db\n""#), "label values escaped: \(text)")
    }
}
