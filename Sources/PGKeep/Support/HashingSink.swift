import Crypto
import Foundation

/// The file a backup is written to: every byte that goes in is counted and hashed (SHA-256)
/// on the way, so the checksum costs no second pass.
// Thread-confined: one thread writes at a time (the compressor's writer thread, or the thread
// copying age's output), and the owner reads the totals only after that thread has signalled its end.
public final class HashingSink: @unchecked Sendable {
    public let fd: Int32
    public let path: String
    private var hasher = SHA256()
    public private(set) var bytesWritten: Int64 = 0

    public init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    public func write(_ buffer: UnsafeRawBufferPointer) throws {
        guard buffer.count > 0 else { return }
        try FileSystem.writeAll(fd, buffer, path: path)
        hasher.update(bufferPointer: buffer)
        bytesWritten += Int64(buffer.count)
    }

    /// The SHA-256 of everything written, as lowercase hex.
    public func finalizeHex() -> String {
        hasher.finalize().hexString
    }
}
