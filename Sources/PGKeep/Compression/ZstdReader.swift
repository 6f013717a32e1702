import CZstd
import Foundation

/// Streams a zstd file through libzstd: every byte is hashed (SHA-256 of the compressed file),
/// every frame is decompressed to its end and its content checksum checked by libzstd, and the
/// output is handed to `consume` in chunks. Concatenated frames are read as `zstd -dc` reads them.
/// A stream that stops inside a frame is reported as truncated.
///
/// When `consume` returns false it has seen enough: the rest of the file is still read and
/// hashed, but no longer decompressed, and `complete` is false.
public enum ZstdReader {
    public static func decompress(
        fd: Int32, path: String, hashing: Bool = true, consume: (UnsafeRawBufferPointer) throws -> Bool
    ) throws -> DecompressedStream {
        guard let context = ZSTD_createDCtx() else {
            throw PGKeepError(.backup, "libzstd could not start a decompressor")
        }
        defer { ZSTD_freeDCtx(context) }
        let decoder = ZstdDecoder(context: context, path: path)
        var compressed: Int64 = 0
        var decompressing = true
        let sha = try hashChunks(of: fd, path: path, hashing: hashing) { chunk in
            compressed += Int64(chunk.count)
            guard decompressing else { return }
            decompressing = try decoder.feed(chunk, at: compressed - Int64(chunk.count), consume)
            // Not hashing, the rest of the file is of no use once the consumer has enough.
            if !decompressing && !hashing { throw StopReading() }
        }.sha256
        let result = DecompressedStream(
            compressedBytes: compressed, uncompressedBytes: decoder.produced, sha256: sha, complete: decompressing)
        if decompressing { try decoder.finish(compressedBytes: compressed) }
        return result
    }
}

/// One zstd decompression, fed chunk by chunk: the reader above and the writer's check use it.
// Thread-confined: one thread feeds it at a time (the writer's check hands it to its writer thread
// and reads the totals only after that thread has signalled its end).
final class ZstdDecoder: @unchecked Sendable {
    private let context: OpaquePointer
    private let path: String
    private let outSize = 1 << 18
    private let output: UnsafeMutableRawPointer
    private(set) var produced: Int64 = 0
    private var inFrame = false
    private var framesEnded = 0

    init(context: OpaquePointer, path: String) {
        self.context = context
        self.path = path
        output = UnsafeMutableRawPointer.allocate(byteCount: outSize, alignment: 16)
    }

    deinit { output.deallocate() }

    /// Decompresses `chunk` (which starts at byte `offset` of the stream), handing the output to
    /// `consume`; returns false as soon as `consume` does.
    func feed(
        _ chunk: UnsafeRawBufferPointer, at offset: Int64, _ consume: (UnsafeRawBufferPointer) throws -> Bool
    ) throws -> Bool {
        var input = ZSTD_inBuffer(src: chunk.baseAddress, size: chunk.count, pos: 0)
        var outputFull = false
        while input.pos < input.size || outputFull {
            var out = ZSTD_outBuffer(dst: output, size: outSize, pos: 0)
            let startsFrame = !inFrame && input.pos < input.size
            let rc = ZSTD_decompressStream(context, &out, &input)
            if ZSTD_isError(rc) != 0 {
                let reason = String(cString: ZSTD_getErrorName(rc))
                let at = offset + Int64(input.pos)
                if startsFrame && framesEnded > 0 {
                    throw PGKeepError(.backup, "\(path) has data after the end of its zstd stream (near byte \(at))")
                }
                throw PGKeepError(.backup, "\(path) is corrupt: zstd data error near byte \(at): \(reason)")
            }
            inFrame = rc != 0
            if rc == 0 { framesEnded += 1 }
            // A full output may hide more of this frame; a frame that ended (rc 0) has none.
            outputFull = out.pos == out.size && rc != 0
            if out.pos > 0 {
                produced += Int64(out.pos)
                guard try consume(UnsafeRawBufferPointer(start: output, count: out.pos)) else { return false }
            }
        }
        return true
    }

    /// The stream ended: it must have ended at the end of a frame.
    func finish(compressedBytes: Int64) throws {
        if inFrame || framesEnded == 0 {
            throw PGKeepError(
                .backup,
                "\(path) is truncated: the zstd stream ends inside a frame (\(compressedBytes) bytes read)")
        }
    }
}
