import CZlib
import Foundation

/// zlib's inflate for the gzip members that are not pgkeep's (stock gzip, pigz, pg_dump's own
/// directory files, pgkeep's files from before libdeflate): one member at a time, fed in pieces
/// as they arrive, its CRC-32 and length checked by zlib at its end.
final class GzipInflater {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private let outSize = 1 << 18
    private let output: UnsafeMutableRawPointer
    private let path: String

    init(path: String) throws {
        self.path = path
        output = UnsafeMutableRawPointer.allocate(byteCount: outSize, alignment: 16)
        stream.initialize(to: z_stream())
        guard inflateInit2_(stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            output.deallocate()
            stream.deallocate()
            throw PGKeepError(.backup, "zlib could not start a decompressor (out of memory?)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        output.deallocate()
    }

    /// Starts a new member.
    func reset() { inflateReset(stream) }

    /// Inflates from `input` (which starts `offset` bytes into the file) until the member ends or
    /// the input runs out, handing the output to `consume` while it returns true. Returns the bytes
    /// of `input` used and whether the member ended; `consume` returning false stops early.
    func feed(
        _ input: UnsafeRawBufferPointer, offset: Int64, consume: (UnsafeRawBufferPointer) throws -> Bool
    ) throws -> (used: Int, ended: Bool, stopped: Bool) {
        stream.pointee.next_in = UnsafeMutablePointer(
            mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        while true {
            stream.pointee.next_out = output.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(outSize)
            let rc = inflate(stream, Z_NO_FLUSH)
            let produced = outSize - Int(stream.pointee.avail_out)
            let used = input.count - Int(stream.pointee.avail_in)
            if produced > 0, try !consume(UnsafeRawBufferPointer(start: output, count: produced)) {
                return (used, false, true)
            }
            switch rc {
            case Z_STREAM_END:
                return (used, true, false)
            case Z_OK, Z_BUF_ERROR:
                // Out of input with all output handed on: wait for more. Output full: go on.
                if stream.pointee.avail_in == 0 && produced < outSize { return (used, false, false) }
                if rc == Z_BUF_ERROR && produced == 0 {
                    throw PGKeepError(.backup, "\(path) is not a readable gzip stream (zlib made no progress)")
                }
            default:
                let msg = stream.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
                throw PGKeepError(
                    .backup, "\(path) is corrupt: gzip data error near byte \(offset + Int64(used)): \(msg)")
            }
        }
    }
}
