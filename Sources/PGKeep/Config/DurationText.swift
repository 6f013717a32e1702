import Foundation

/// Durations as written for --max-age and `max_age`: `26h`, `90m`, `2d`, `1h30m`, `3600s` or a
/// plain number of seconds.
public enum DurationText {
    public static func parse(_ text: String) throws -> TimeInterval {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let seconds = Double(t), seconds > 0 { return seconds }
        var total: Double = 0
        var number = ""
        var sawUnit = false
        for ch in t {
            if ch.isNumber || ch == "." {
                number.append(ch)
            } else {
                let unit: Double
                switch ch {
                case "s": unit = 1
                case "m": unit = 60
                case "h": unit = 3600
                case "d": unit = 86400
                case "w": unit = 7 * 86400
                default: throw bad(text)
                }
                guard let n = Double(number) else { throw bad(text) }
                total += n * unit
                number = ""
                sawUnit = true
            }
        }
        guard sawUnit, number.isEmpty, total > 0 else { throw bad(text) }
        return total
    }

    static func bad(_ text: String) -> PGKeepError {
        PGKeepError(.usage, "\"\(text)\" is not a duration; write e.g. 26h, 90m, 2d or 1h30m")
    }

    /// `93600` → `1d2h`, `5400` → `1h30m`, for messages.
    public static func format(_ seconds: TimeInterval) -> String {
        var s = Int(seconds.rounded())
        var parts: [String] = []
        for (unit, name) in [(86400, "d"), (3600, "h"), (60, "m"), (1, "s")] where s >= unit {
            parts.append("\(s / unit)\(name)")
            s %= unit
        }
        return parts.isEmpty ? "0s" : parts.joined()
    }
}
