import CPGKeep
import Crypto
import Foundation

extension Sequence where Element == UInt8 {
    /// Lowercase hex, the form sha256sum prints.
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Digest {
    var hexString: String { Array(self).hexString }
}

/// Reads from `fd` until `count` bytes are in `buffer` or EOF; returns how many were read.
func readFully(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int, what: String) throws -> Int {
    var filled = 0
    while filled < count {
        let n = read(fd, buffer + filled, count - filled)
        if n > 0 {
            pgkeep_progress_tick()
            filled += n
        } else if n == 0 {
            break
        } else if errno == EINTR {
            continue
        } else {
            throw PGKeepError(.backup, "cannot read \(what): \(errnoText())")
        }
    }
    return filled
}

/// Thrown by a `hashChunks` body that has what it needs from a read that does not hash: the
/// read ends there instead of going on to the end of the file for nothing.
struct StopReading: Error {}

/// Reads `fd` to EOF in 1 MiB chunks, handing each to `body`, and returns the SHA-256 and the
/// byte count of everything read.
/// `hashing: false` skips the SHA-256 (the sha256 is then empty): for reads whose file was
/// checked already; only such a read may be ended early by `StopReading`.
func hashChunks(
    of fd: Int32, path: String, hashing: Bool = true,
    _ body: (UnsafeRawBufferPointer) throws -> Void = { _ in }
) throws -> (sha256: String, size: Int64) {
    let size = 1 << 20
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
    defer { buffer.deallocate() }
    var hasher = SHA256()
    var total: Int64 = 0
    while true {
        let n = try readFully(fd, into: buffer, count: size, what: path)
        if n == 0 { break }
        let chunk = UnsafeRawBufferPointer(start: buffer, count: n)
        if hashing { hasher.update(bufferPointer: chunk) }
        total += Int64(n)
        do { try body(chunk) } catch is StopReading where !hashing { break }
    }
    return (hashing ? hasher.finalize().hexString : "", total)
}

/// The last bytes of a stream (up to 256), for the end-of-dump checks: kept as the stream passes.
struct StreamTail {
    static let size = 256
    private(set) var bytes: [UInt8] = []

    mutating func keep(_ chunk: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: chunk.suffix(Self.size))
        if bytes.count > Self.size { bytes.removeFirst(bytes.count - Self.size) }
    }
}

/// Copies `inputFD` to the sink unchanged (for --no-compress). Returns the byte count and the
/// last bytes of the stream (up to 256).
public func copyStream(
    from inputFD: Int32, to sink: HashingSink, what: String,
    progress: (@Sendable (Int64, Int64) -> Void)? = nil
) throws -> (bytes: Int64, tail: [UInt8]) {
    let size = 1 << 20
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
    defer { buffer.deallocate() }
    var total: Int64 = 0
    var tail = StreamTail()
    while true {
        let n = try readFully(inputFD, into: buffer, count: size, what: what)
        if n == 0 { break }
        let chunk = UnsafeRawBufferPointer(start: buffer, count: n)
        try sink.write(chunk)
        tail.keep(chunk)
        total += Int64(n)
        progress?(total, sink.bytesWritten)
    }
    return (total, tail.bytes)
}
