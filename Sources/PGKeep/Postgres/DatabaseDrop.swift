import Foundation

/// Drops a database pgkeep created (a restore's `--create`, a copy's scratch, a drill's), trying
/// again while the server comes back from a restart or a crash, for up to `patience` seconds:
/// a failure that was caused by the server going away must not leave an empty database behind.
/// Cleanups after a signal pass no patience (one try): they must end within docker's grace.
enum DatabaseDrop {
    /// nil when the database is gone; else the last error.
    static func drop(_ name: String, patience: TimeInterval, run: (String) throws -> Void) -> Error? {
        let deadline = Date().addingTimeInterval(patience)
        while true {
            var lastError: Error?
            for sql in SQL.dropDatabase(name) {
                do {
                    try run(sql)
                    return nil
                } catch {
                    lastError = error
                }
            }
            guard Date() < deadline, Cancellation.shared.signalReceived == nil else { return lastError }
            Thread.sleep(forTimeInterval: 1)
        }
    }
}
