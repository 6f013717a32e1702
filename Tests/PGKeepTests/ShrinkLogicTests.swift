import Foundation
import Testing

@testable import PGKeep

/// The shrink guard's arithmetic and retention's promise around anomalies, without a server.
struct ShrinkLogicTests {
    @Test func sizeBelowHalfTheMedianIsAnAnomaly() {
        #expect(ShrinkGuard.sizeAnomaly(100, previous: [], ratio: 0.5) == nil, "nothing to compare with")
        #expect(ShrinkGuard.sizeAnomaly(600, previous: [1000, 1100, 900], ratio: 0.5) == nil)
        let found = ShrinkGuard.sizeAnomaly(400, previous: [1000, 1100, 900, 10], ratio: 0.5)
        #expect(found?.contains("is 42 % of the median 950 B of the last 4 normal backups") == true, "\(found ?? "")")
        #expect(ShrinkGuard.sizeAnomaly(5000, previous: [1000], ratio: 0.5) == nil, "growth never is")
    }

    @Test func lostRowsAndMissingTablesAreNamed() {
        let before = ["public.a": 1000, "public.b": 10, "public.gone": 5, "public.empty": 0]
        let now = ["public.a": 400, "public.b": 6, "public.empty": 0, "public.new": 3]
        #expect(
            ShrinkGuard.rowAnomalies(now, before: before, maxLoss: 0.5, reference: "x.dump.gz") == [
                "table public.a lost 60 % of its rows (1000 → 400)",
                "table public.gone disappeared (had 5 rows in x.dump.gz)",
            ])
    }

    @Test func anomalousBackupsNeverPushOutTheLastNormalOne() {
        let day = 86400.0
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        var items = (0..<3).map { RetentionItem(id: "n\($0)", time: start.addingTimeInterval(Double($0) * day)) }
        items += (3..<12).map {
            RetentionItem(id: "a\($0)", time: start.addingTimeInterval(Double($0) * day), anomalous: true)
        }
        let policy = RetentionPolicy(daily: 7)
        let decided = policy.apply(items)
        #expect(decided["n2"] == RetentionDecision(keep: true, reasons: ["last normal before anomaly"]))
        #expect(decided["n1"]?.keep == false && decided["n0"]?.keep == false)
        #expect(decided.values.filter(\.keep).count == 8)
        // Once a normal backup follows, the old one goes as the policy says.
        items.append(RetentionItem(id: "n12", time: start.addingTimeInterval(12 * day)))
        #expect(policy.apply(items)["n2"]?.keep == false)
    }

    @Test func aManifestIsAnomalousUntilAccepted() {
        var summary = try! JSONDecoder().decode(
            ManifestSummary.self,
            from: Data(
                #"{"database":"d","file":"f","format":"custom","size":1,"pinned":false,"anomalies":["x"]}"#.utf8))
        #expect(summary.isAnomalous)
        summary.shrinkAccepted = true
        #expect(!summary.isAnomalous)
    }
}
