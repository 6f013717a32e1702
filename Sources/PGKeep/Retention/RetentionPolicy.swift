import Foundation

/// How many backups to keep per period, borg's prune semantics: rules apply finest first (last,
/// hourly, daily, weekly, monthly, yearly); for each, walking the backups newest first, only the
/// newest backup of each period is a candidate; one already kept by an earlier rule uses up the
/// period without counting; a rule stops after N. A rule with N > 0 that kept fewer than N also
/// keeps the oldest backup. The newest backup is always kept; pinned backups are never deleted and
/// do not count. Periods are UTC; weeks are ISO 8601 (`%G-%V`). -1 means unlimited. While the
/// newest backup is anomalous (it shrank), the newest normal one is kept as well.
public struct RetentionPolicy: Sendable, Equatable {
    public var last = 0
    public var hourly = 0
    public var daily = 7
    public var weekly = 4
    public var monthly = 6
    public var yearly = 0

    public init() {}

    public init(last: Int = 0, hourly: Int = 0, daily: Int = 0, weekly: Int = 0, monthly: Int = 0, yearly: Int = 0) {
        (self.last, self.hourly, self.daily, self.weekly, self.monthly, self.yearly) = (
            last, hourly, daily, weekly, monthly, yearly
        )
    }

    /// A count as written on the command line or in the config: a whole number from -1 up, or
    /// `unlimited` (the same as -1). Nil for anything else.
    public static func count(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t == "unlimited" { return -1 }
        guard let n = Int(t), n >= -1 else { return nil }
        return n
    }

    /// The rules in the order they apply.
    public var rules: [(rule: Rule, count: Int)] {
        [(.last, last), (.hourly, hourly), (.daily, daily), (.weekly, weekly), (.monthly, monthly), (.yearly, yearly)]
    }

    public func validate() throws {
        for (rule, n) in rules where n < -1 {
            throw PGKeepError(.usage, "--keep-\(rule.rawValue) must be -1 (unlimited), 0 or more (got \(n))")
        }
        if rules.allSatisfy({ $0.count == 0 }) {
            throw PGKeepError(
                .usage, "every --keep-* count is 0: that policy would delete all but the newest backup; refusing",
                hint: "the defaults are --keep-daily 7 --keep-weekly 4 --keep-monthly 6")
        }
    }

    public var description: String {
        rules.filter { $0.count != 0 }.map { "\($0.rule.rawValue) \($0.count < 0 ? "unlimited" : String($0.count))" }
            .joined(separator: ", ")
    }

    /// A retention rule and the period it groups backups by.
    public enum Rule: String, Sendable, CaseIterable {
        case last, hourly, daily, weekly, monthly, yearly

        /// The period key of `date` (UTC).
        func period(_ date: Date, index: Int) -> String {
            var t = time_t(floor(date.timeIntervalSince1970))
            var p = tm()
            gmtime_r(&t, &p)
            let y = Int(p.tm_year) + 1900
            let m = Int(p.tm_mon) + 1
            let d = Int(p.tm_mday)
            let h = Int(p.tm_hour)
            switch self {
            case .last: return "#\(index)"
            case .hourly: return String(format: "%04d-%02d-%02d %02d", y, m, d, h)
            case .daily: return String(format: "%04d-%02d-%02d", y, m, d)
            case .weekly:
                var buf = [CChar](repeating: 0, count: 16)
                strftime(&buf, buf.count, "%G-%V", &p)
                return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            case .monthly: return String(format: "%04d-%02d", y, m)
            case .yearly: return String(format: "%04d", y)
            }
        }
    }
}

/// One backup as the policy sees it.
public struct RetentionItem: Sendable, Equatable {
    public var id: String
    public var time: Date
    public var pinned: Bool
    /// Its backup shrank against the normal ones (and the shrink was not accepted).
    public var anomalous: Bool

    public init(id: String, time: Date, pinned: Bool = false, anomalous: Bool = false) {
        self.id = id
        self.time = time
        self.pinned = pinned
        self.anomalous = anomalous
    }
}

/// What the policy decided for one backup, and why.
public struct RetentionDecision: Sendable, Equatable {
    public var keep: Bool
    /// E.g. ["daily 3/7"], ["pinned"], ["newest"], ["monthly 6/6 (oldest)"]; empty when deleted.
    public var reasons: [String]
}

/// The periods one backup falls in, as integers (computed once per backup).
struct PeriodKeys {
    var hour: Int, day: Int, week: Int, month: Int, year: Int

    init(_ date: Date) {
        var t = time_t(floor(date.timeIntervalSince1970))
        var p = tm()
        gmtime_r(&t, &p)
        hour = Int(t).floorDiv(3600)
        day = Int(t).floorDiv(86400)
        // ISO weeks start on Monday; 1970-01-01 (day 0) was a Thursday. The key is the number of
        // the week since then: equal within an ISO week, different across weeks.
        week = (day + 3).floorDiv(7)
        year = Int(p.tm_year) + 1900
        month = year * 12 + Int(p.tm_mon)
    }

    func key(_ rule: RetentionPolicy.Rule, index: Int) -> Int {
        switch rule {
        case .last: return index
        case .hourly: return hour
        case .daily: return day
        case .weekly: return week
        case .monthly: return month
        case .yearly: return year
        }
    }
}

extension Int {
    func floorDiv(_ d: Int) -> Int { self >= 0 ? self / d : (self - d + 1) / d }
}

extension RetentionPolicy {
    /// Decides every item. Pure: the same items in any order give the same decisions.
    public func apply(_ items: [RetentionItem]) -> [String: RetentionDecision] {
        // Newest first; ties broken by id so that input order never matters.
        let sorted = items.sorted { ($0.time, $0.id) > ($1.time, $1.id) }
        var decisions: [String: RetentionDecision] = [:]
        decisions.reserveCapacity(items.count)
        for (item, decision) in zip(sorted, decide(ordered: sorted)) { decisions[item.id] = decision }
        return decisions
    }

    /// `apply` for items already in its order (newest first), the decisions in the same order:
    /// no sort and no dictionary (`PruneJob.plan` decides 100,000 backups at a time).
    func decide(ordered sorted: [RetentionItem]) -> [RetentionDecision] {
        let candidates = sorted.indices.filter { !sorted[$0].pinned }
        let keys = candidates.map { PeriodKeys(sorted[$0].time) }
        var keptBy = [String?](repeating: nil, count: sorted.count)
        for (rule, n) in rules where n != 0 {
            var last: Int?
            var kept = 0
            var current: Int?
            for (position, index) in candidates.enumerated() {
                current = index
                let period = keys[position].key(rule, index: position)
                guard period != last else { continue }
                last = period
                guard keptBy[index] == nil else { continue }
                kept += 1
                keptBy[index] = "\(rule.rawValue) \(kept)" + (n > 0 ? "/\(n)" : "")
                if n > 0 && kept == n { break }
            }
            if n > 0, kept < n, let oldest = current, keptBy[oldest] == nil {
                kept += 1
                keptBy[oldest] = "\(rule.rawValue) \(kept)/\(n) (oldest)"
            }
        }
        if let newest = candidates.first, keptBy[newest] == nil { keptBy[newest] = "newest" }
        // While the newest backups are anomalous, they never push out the last normal one.
        if let newest = candidates.first, sorted[newest].anomalous,
            let normal = candidates.first(where: { !sorted[$0].anomalous }), keptBy[normal] == nil
        {
            keptBy[normal] = "last normal before anomaly"
        }
        return sorted.indices.map { i in
            if sorted[i].pinned { return RetentionDecision(keep: true, reasons: ["pinned"]) }
            if let reason = keptBy[i] { return RetentionDecision(keep: true, reasons: [reason]) }
            return RetentionDecision(keep: false, reasons: [])
        }
    }
}
