import Foundation

/// Phase timings on stderr when PGKEEP_TRACE=1, for diagnosing where a slow backup spends its time.
public enum Trace {
    public static let enabled = ProcessInfo.processInfo.environment["PGKEEP_TRACE"] == "1"

    /// Prints the time since `start` for `phase`, and returns now as the next start.
    @discardableResult
    public static func phase(_ phase: String, since start: Date) -> Date {
        let now = Date()
        if enabled {
            Console.err(
                "pgkeep trace: " + phase.padding(toLength: 18, withPad: " ", startingAt: 0)
                    + String(format: " %7.3f s\n", now.timeIntervalSince(start)))
        }
        return now
    }
}
