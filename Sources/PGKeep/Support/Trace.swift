import Foundation

/// Phase timings on stderr when PGKEEP_TRACE=1, for diagnosing where a slow backup spends its time.
enum Trace {
    static let enabled = ProcessInfo.processInfo.environment["PGKEEP_TRACE"] == "1"

    /// Prints the time since `start` for `phase`, and returns now as the next start.
    @discardableResult
    static func phase(_ phase: String, since start: Date) -> Date {
        let now = Date()
        if enabled {
            FileHandle.standardError.write(Data(String(format: "pgkeep trace: %-18@ %7.3f s\n", phase as NSString, now.timeIntervalSince(start)).utf8))
        }
        return now
    }
}
