import Foundation

/// A five-field cron expression (minute hour day-of-month month day-of-week), as cron reads it:
/// numbers, `*`, lists `a,b`, ranges `a-b`, steps `*/n` and `a-b/n`, Sunday as 0 or 7, the
/// nicknames `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`. When both day fields are
/// restricted a day matches if either does (cron's rule). `next(after:in:)` is the next matching
/// minute in a time zone.
public struct CronExpression: Sendable, Equatable {
    public let text: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let days: Set<Int>
    let months: Set<Int>
    let weekdays: Set<Int>
    let dayRestricted: Bool
    let weekdayRestricted: Bool

    static let nicknames = [
        "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
        "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
    ]
    static let ranges = [0...59, 0...23, 1...31, 1...12, 0...7]
    static let names = ["minute", "hour", "day of month", "month", "day of week"]

    /// `source` names where the text came from in messages (`--cron`, `[schedule] cron`).
    public init(_ text: String, source: String = "--cron") throws {
        self.text = text.trimmingCharacters(in: .whitespaces)
        let expanded = Self.nicknames[self.text] ?? self.text
        let fields = expanded.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else {
            throw PGKeepError(
                .usage,
                "\(source) needs five fields (minute hour day-of-month month day-of-week), e.g. \"0 2 * * *\"; got "
                    + "\"\(text)\"")
        }
        var sets: [Set<Int>] = []
        for (i, field) in fields.enumerated() {
            sets.append(try Self.values(field, range: Self.ranges[i], name: Self.names[i], source: source))
        }
        minutes = sets[0]
        hours = sets[1]
        days = sets[2]
        months = sets[3]
        // Sunday is 0 or 7.
        weekdays = Set(sets[4].map { $0 % 7 })
        dayRestricted = !fields[2].hasPrefix("*")
        weekdayRestricted = !fields[4].hasPrefix("*")
    }

    /// The values one field allows.
    static func values(_ field: String, range: ClosedRange<Int>, name: String, source: String) throws -> Set<Int> {
        let bad = PGKeepError(
            .usage,
            "\(source): the \(name) field \"\(field)\" is not valid cron syntax (numbers, *, lists a,b, ranges a-b, "
                + "steps */n)")
        var out = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard (1...2).contains(pieces.count), let base = pieces.first, !base.isEmpty else { throw bad }
            let step = pieces.count == 2 ? Int(pieces[1]) : 1
            guard let step, step > 0 else { throw bad }
            let low: Int
            let high: Int
            if base == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else {
                let bounds = base.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
                guard (1...2).contains(bounds.count), let a = bounds[0], range.contains(a) else { throw bad }
                let b = bounds.count == 2 ? bounds[1] : (pieces.count == 2 ? range.upperBound : a)
                guard let b, range.contains(b), a <= b else { throw bad }
                (low, high) = (a, b)
            }
            out.formUnion(stride(from: low, through: high, by: step))
        }
        return out
    }

    func dayMatches(day: Int, weekday: Int) -> Bool {
        switch (dayRestricted, weekdayRestricted) {
        case (true, true): return days.contains(day) || weekdays.contains(weekday)
        case (true, false): return days.contains(day)
        case (false, true): return weekdays.contains(weekday)
        case (false, false): return true
        }
    }

    /// The first minute after `date` (strictly) that matches, in `zone`; nil when none does
    /// within eight years (e.g. "0 0 30 2 *").
    public func next(after date: Date, in zone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let start = calendar.dateInterval(of: .minute, for: date)?.start ?? date
        guard var t = calendar.date(byAdding: .minute, value: 1, to: start) else { return nil }
        let limit = date.addingTimeInterval(8 * 366 * 86400)
        while t < limit {
            let c = calendar.dateComponents([.month, .day, .hour, .minute, .weekday], from: t)
            guard let month = c.month, let day = c.day, let hour = c.hour, let minute = c.minute,
                let weekday = c.weekday
            else { return nil }
            if !months.contains(month) {
                guard let first = calendar.dateInterval(of: .month, for: t)?.end else { return nil }
                t = first
            } else if !dayMatches(day: day, weekday: weekday - 1) {
                guard let next = calendar.dateInterval(of: .day, for: t)?.end else { return nil }
                t = next
            } else if !hours.contains(hour) {
                guard let next = calendar.dateInterval(of: .hour, for: t)?.end else { return nil }
                t = next
            } else if !minutes.contains(minute) {
                guard let next = calendar.date(byAdding: .minute, value: 1, to: t) else { return nil }
                t = next
            } else {
                return t
            }
        }
        return nil
    }

    /// The time between the next two runs after `date`: what "one interval" means for a daemon
    /// that starts after a long pause.
    public func interval(after date: Date, in zone: TimeZone) -> TimeInterval? {
        guard let first = next(after: date, in: zone), let second = next(after: first, in: zone) else { return nil }
        return second.timeIntervalSince(first)
    }
}
