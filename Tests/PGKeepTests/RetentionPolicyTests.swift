import Foundation
import Testing

@testable import PGKeep

@Suite struct RetentionPolicyTests {
    static func date(_ s: String) -> Date {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s.count == 10 ? s + "T02:00:00Z" : s)!
    }

    func kept(_ policy: RetentionPolicy, _ items: [RetentionItem]) -> [String] {
        let d = policy.apply(items)
        return items.filter { d[$0.id]!.keep }.map(\.id).sorted()
    }

    @Test func aYearOfNightlyBackupsKeeps7Daily4Weekly6Monthly() {
        // 400 nightly backups up to Thursday 2026-04-02 (ISO week 2026-W14).
        let end = Self.date("2026-04-02")
        let items = (0..<400).map { i in
            RetentionItem(
                id: BackupName.timestampString(end.addingTimeInterval(Double(-i) * 86400)).prefix(10).description,
                time: end.addingTimeInterval(Double(-i) * 86400))
        }
        let d = RetentionPolicy().apply(items)
        let keep = items.filter { d[$0.id]!.keep }.map(\.id).sorted()
        #expect(
            keep == [
                "2025-09-30", "2025-10-31", "2025-11-30", "2025-12-31", "2026-01-31", "2026-02-28",  // monthly
                "2026-03-01", "2026-03-08", "2026-03-15", "2026-03-22",  // weekly (Sundays)
                // daily
                "2026-03-27", "2026-03-28", "2026-03-29", "2026-03-30", "2026-03-31", "2026-04-01", "2026-04-02",
            ])
        #expect(d["2026-04-02"]!.reasons == ["daily 1/7"])
        #expect(d["2026-03-22"]!.reasons == ["weekly 1/4"])
        #expect(d["2025-09-30"]!.reasons == ["monthly 6/6"])
    }

    @Test func isoWeeksAcrossNewYear() {
        // 2020-12-31 (Thu), 2021-01-01 (Fri) and 2021-01-03 (Sun) are all in 2020-W53.
        #expect(RetentionPolicy.Rule.weekly.period(Self.date("2020-12-31"), index: 0) == "2020-53")
        #expect(RetentionPolicy.Rule.weekly.period(Self.date("2021-01-03"), index: 0) == "2020-53")
        #expect(RetentionPolicy.Rule.weekly.period(Self.date("2021-01-04"), index: 0) == "2021-01")
        #expect(RetentionPolicy.Rule.weekly.period(Self.date("2026-12-31"), index: 0) == "2026-53")
        let items = ["2020-12-31", "2021-01-01", "2021-01-03", "2021-01-04"].map {
            RetentionItem(id: $0, time: Self.date($0))
        }
        #expect(kept(RetentionPolicy(weekly: 2), items) == ["2021-01-03", "2021-01-04"])
    }

    @Test func monthsOfEveryLength() {
        let items = ["2026-01-31", "2026-02-28", "2026-03-01", "2026-03-31", "2024-02-29"].map {
            RetentionItem(id: $0, time: Self.date($0))
        }
        #expect(kept(RetentionPolicy(monthly: 3), items) == ["2026-01-31", "2026-02-28", "2026-03-31"])
        #expect(kept(RetentionPolicy(monthly: 4), items) == ["2024-02-29", "2026-01-31", "2026-02-28", "2026-03-31"])
    }

    @Test func theNewestOfSeveralInOneDaySurvives() {
        let items = ["2026-04-02T01:00:00Z", "2026-04-02T02:00:00Z", "2026-04-02T23:59:59Z", "2026-04-01T23:00:00Z"]
            .map { RetentionItem(id: $0, time: Self.date($0)) }
        #expect(kept(RetentionPolicy(daily: 2), items) == ["2026-04-01T23:00:00Z", "2026-04-02T23:59:59Z"])
        #expect(kept(RetentionPolicy(hourly: 2), items) == ["2026-04-02T02:00:00Z", "2026-04-02T23:59:59Z"])
    }

    @Test func weeksWithoutBackupsDoNotCount() {
        let items = ["2026-01-05", "2026-01-19", "2026-02-02", "2025-12-01"].map {
            RetentionItem(id: $0, time: Self.date($0))
        }
        #expect(kept(RetentionPolicy(weekly: 3), items) == ["2026-01-05", "2026-01-19", "2026-02-02"])
    }

    @Test func pinnedBackupsAreKeptAndDoNotCount() {
        let items = [
            RetentionItem(id: "old-pinned", time: Self.date("2020-01-01"), pinned: true),
            RetentionItem(id: "new-pinned", time: Self.date("2026-04-02"), pinned: true),
            RetentionItem(id: "a", time: Self.date("2026-04-01")),
            RetentionItem(id: "b", time: Self.date("2026-03-31")),
            RetentionItem(id: "c", time: Self.date("2026-03-30")),
        ]
        let d = RetentionPolicy(daily: 2).apply(items)
        #expect(d["old-pinned"]! == RetentionDecision(keep: true, reasons: ["pinned"]))
        #expect(d["new-pinned"]! == RetentionDecision(keep: true, reasons: ["pinned"]))
        #expect(d["a"]!.reasons == ["daily 1/2"])
        #expect(d["b"]!.reasons == ["daily 2/2"])
        #expect(!d["c"]!.keep)
    }

    @Test func aShortHistoryKeepsItsOldestToo() {
        // Three backups in one week: weekly 4 keeps the newest and, having fewer than 4, the oldest.
        let items = ["2026-03-30", "2026-03-31", "2026-04-01"].map { RetentionItem(id: $0, time: Self.date($0)) }
        let d = RetentionPolicy(weekly: 4).apply(items)
        #expect(d["2026-04-01"]!.reasons == ["weekly 1/4"])
        #expect(d["2026-03-30"]!.reasons == ["weekly 2/4 (oldest)"])
        #expect(!d["2026-03-31"]!.keep)
    }

    @Test func unlimitedAndRefusedPolicies() throws {
        let items = (0..<30).map {
            RetentionItem(id: "\($0)", time: Self.date("2026-04-02").addingTimeInterval(Double(-$0) * 86400))
        }
        #expect(kept(RetentionPolicy(daily: -1), items).count == 30)
        #expect(throws: PGKeepError.self) { try RetentionPolicy(daily: 0, weekly: 0, monthly: 0).validate() }
        #expect(throws: PGKeepError.self) { try RetentionPolicy(daily: -2).validate() }
        try RetentionPolicy().validate()
        #expect(RetentionPolicy() == RetentionPolicy(daily: 7, weekly: 4, monthly: 6))
    }

    /// Properties over random histories.
    @Test func propertiesOverRandomHistories() {
        var rng = SplitMix(seed: 20_261_121)
        for _ in 0..<300 {
            let start = Self.date("2024-01-01").timeIntervalSince1970
            let n = Int(rng.next() % 80) + 1
            var items: [RetentionItem] = []
            for i in 0..<n {
                let t = start + Double(rng.next() % (800 * 86400))
                items.append(
                    RetentionItem(
                        id: "b\(i)", time: Date(timeIntervalSince1970: floor(t)), pinned: rng.next() % 10 == 0))
            }
            func r(_ max: UInt64) -> Int {
                let v = Int(rng.next() % (max + 2))
                return v == Int(max) + 1 ? -1 : v
            }
            var policy = RetentionPolicy(
                last: r(3), hourly: r(3), daily: r(10), weekly: r(6), monthly: r(8), yearly: r(2))
            if policy.rules.allSatisfy({ $0.count == 0 }) { policy.daily = 1 }

            let d = policy.apply(items)
            #expect(Set(d.keys) == Set(items.map(\.id)), "kept ⊆ input, every input decided")
            for item in items where item.pinned { #expect(d[item.id]!.keep) }
            if let newest = items.filter({ !$0.pinned }).max(by: { ($0.time, $0.id) < ($1.time, $1.id) }) {
                #expect(d[newest.id]!.keep, "the newest is kept")
            }
            let keptItems = items.filter { d[$0.id]!.keep }
            let again = policy.apply(keptItems)
            let allKept = again.values.allSatisfy { $0.keep }
            #expect(allKept, "pruning again deletes nothing: \(policy)")
            var shuffled = items
            shuffled.shuffle(using: &rng)
            #expect(policy.apply(shuffled) == d, "order does not matter")
        }
    }
}

/// A small deterministic generator for the property test.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
