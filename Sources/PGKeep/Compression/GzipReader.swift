import CZlib
import Crypto
import Foundation

/// Streams a gzip file through zlib: every byte is hashed (SHA-256 of the compressed file),
/// every member is decompressed to its end and its CRC-32 and length checked, and the output is
/// handed to `consume` in chunks. Concatenated members are read as gunzip reads them.
/// A stream that stops inside a member is reported as truncated.
///
/// When `consume` returns false it has seen enough: the rest of the file is still read and
/// hashed, but no longer inflated, and `complete` is false.
public enum GzipReader {
    public static func decompress(
        fd: Int32, path: String, hashing: Bool = true,
        consume: (UnsafeRawBufferPointer) throws -> Bool
    ) throws -> DecompressedStream {
        let outSize = 1 << 18
        let output = UnsafeMutableRawPointer.allocate(byteCount: outSize, alignment: 16)
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            inflateEnd(stream)
            stream.deallocate()
            output.deallocate()
        }
        guard inflateInit2_(stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw PGKeepError(.backup, "zlib could not start a decompressor")
        }
        var compressed: Int64 = 0
        var uncompressed: Int64 = 0
        var inMember = false
        var membersEnded = 0
        var inflating = true

        /// One inflate call into `output`, handing what it produced to `consume`.
        func step() throws -> (rc: Int32, produced: Int) {
            stream.pointee.next_out = output.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(outSize)
            let rc = inflate(stream, Z_NO_FLUSH)
            let produced = outSize - Int(stream.pointee.avail_out)
            if produced > 0 {
                uncompressed += Int64(produced)
                inflating = try consume(UnsafeRawBufferPointer(start: output, count: produced))
            }
            return (rc, produced)
        }

        let sha = try hashChunks(of: fd, path: path, hashing: hashing) { chunk in
            compressed += Int64(chunk.count)
            guard inflating else { return }
            stream.pointee.next_in = UnsafeMutablePointer(
                mutating: chunk.baseAddress!.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(chunk.count)
            while inflating && stream.pointee.avail_in > 0 {
                if !inMember {
                    // A new member must start with the gzip magic; anything else is garbage.
                    if membersEnded > 0 && stream.pointee.next_in.pointee != 0x1f {
                        throw PGKeepError(
                            .backup,
                            "\(path) has data after the end of its gzip stream (at byte "
                                + "\(compressed - Int64(stream.pointee.avail_in)))"
                        )
                    }
                    inMember = true
                }
                let (rc, produced) = try step()
                switch rc {
                case Z_STREAM_END:
                    membersEnded += 1
                    inMember = false
                    inflateReset(stream)
                case Z_OK, Z_BUF_ERROR:
                    if rc == Z_BUF_ERROR && produced == 0 && stream.pointee.avail_in > 0 {
                        throw PGKeepError(.backup, "\(path) is not a readable gzip stream (zlib made no progress)")
                    }
                default:
                    let msg = stream.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
                    throw PGKeepError(
                        .backup,
                        "\(path) is corrupt: gzip data error near byte "
                            + "\(compressed - Int64(stream.pointee.avail_in)): \(msg)"
                    )
                }
            }
        }.sha256
        if !inflating {
            return DecompressedStream(
                compressedBytes: compressed, uncompressedBytes: uncompressed, sha256: sha, complete: false)
        }
        // Drain output zlib still holds for the current member (the last chunk filled `output`).
        while inMember {
            let (rc, produced) = try step()
            if rc == Z_STREAM_END {
                inMember = false
                membersEnded += 1
                break
            }
            if produced == 0 { break }
        }
        if inMember || membersEnded == 0 {
            throw PGKeepError(
                .backup, "\(path) is truncated: the gzip stream ends before its end marker (\(compressed) bytes read)")
        }
        return DecompressedStream(
            compressedBytes: compressed, uncompressedBytes: uncompressed, sha256: sha, complete: true)
    }
}
