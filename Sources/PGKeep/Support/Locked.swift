import Foundation

/// A value shared between threads, guarded by a lock: pgkeep's one lock type, in the library and
/// in the command tree. Where one lock guards several fields, they are one struct inside it.
///
/// The lock is not recursive: a body must not call, directly or through a callback, into
/// `withLock` of the same instance.
// Every read and write of `value` holds `lock`.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    /// Runs `body` with the value, holding the lock until it returns.
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    /// A copy of the value, read under the lock.
    public var current: Value { withLock { $0 } }
}
