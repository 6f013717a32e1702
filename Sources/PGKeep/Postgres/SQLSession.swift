import Foundation

/// A session a copy or a comparison sends SQL through: libpq in this process, or psql held open
/// inside a docker compose service (`PsqlSession`).
public protocol SQLSession: AnyObject, Sendable {
    /// Runs a query and returns its rows as text (NULL as nil).
    func query(_ sql: String) throws -> [[String?]]
    /// Runs a statement whose rows do not matter; a failure names `what`.
    func execute(_ sql: String, what: String) throws
}

/// Where a copy reads a table: `sql` is a `COPY ... TO STDOUT`, its text handed to `each` as it
/// arrives (whole rows or any slice of them).
public protocol CopySourceEnd: AnyObject, Sendable {
    func unload(_ sql: String, _ each: (UnsafeRawBufferPointer) throws -> Void) throws
}

/// Where a copy writes a table: emptied and loaded by `sql` (a `COPY ... FROM STDIN`) in one
/// transaction from what `produce` sends. Returns the rows loaded.
public protocol CopyTargetEnd: AnyObject, Sendable {
    func load(table: String, _ sql: String, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void)
        throws -> Int
}
