import Foundation

/// When a restore's phases ended: the backup's check, the restore (split by the script's data and
/// post-data marks when it ran through psql), and the check after it.
struct RestoreTimeline {
    var checked: Date?
    var marks: (data: Date?, postData: Date?) = (nil, nil)
    var restored: Date?

    /// Seconds per phase, rounded to milliseconds.
    func phases(started: Date, end: Date) -> [String: Double] {
        func seconds(_ a: Date?, _ b: Date?) -> Double? {
            guard let a, let b else { return nil }
            return (max(0, b.timeIntervalSince(a)) * 1000).rounded() / 1000
        }
        var out: [String: Double] = [:]
        out["check"] = seconds(started, checked)
        if let data = marks.data {
            out["schema"] = seconds(checked, data)
            out["data"] = seconds(data, marks.postData ?? restored)
            if marks.postData != nil { out["post-data"] = seconds(marks.postData, restored) }
        } else {
            out["restore"] = seconds(checked, restored)
        }
        out["verify"] = seconds(restored, end)
        return out
    }
}
