import CDeflate
import Foundation

/// One block of the parallel gzip stream: up to `ParallelGzipWriter.blockSize` bytes of input and
/// the complete gzip member libdeflate makes of it (see `GzipMember`). A block belongs to the one
/// thread that took it (reader, worker, writer in turn) until it is handed back.
final class GzipBlock {
    let input = UnsafeMutableRawPointer.allocate(byteCount: ParallelGzipWriter.blockSize, alignment: 16)
    var inputCount = 0
    let outputCapacity: Int
    let output: UnsafeMutableRawPointer
    var outputCount = 0
    var crc: UInt32 = 0
    var isLast = false
    var sequence = -1
    var state = State.free
    enum State { case free, queued, done }

    init(outputCapacity: Int) {
        self.outputCapacity = outputCapacity
        output = UnsafeMutableRawPointer.allocate(byteCount: outputCapacity, alignment: 16)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// The room a member of `blockSize` input needs, whatever the data: libdeflate's bound for raw
    /// deflate at any level, and the header and trailer around it.
    static func capacity(blockSize: Int) -> Int {
        libdeflate_deflate_compress_bound(nil, blockSize) + GzipMember.headerSize + GzipMember.trailerSize
    }

    /// Compresses the input into one complete gzip member: pgkeep's header, libdeflate's raw deflate
    /// stream, CRC-32 and length.
    func compress(with compressor: OpaquePointer, level: Int32) throws {
        let room = outputCapacity - GzipMember.headerSize - GzipMember.trailerSize
        let deflated = libdeflate_deflate_compress(
            compressor, input, inputCount, output + GzipMember.headerSize, room)
        guard deflated > 0 else {
            throw PGKeepError(
                .backup, "libdeflate failed to compress block \(sequence) (\(inputCount) bytes into \(room))")
        }
        crc = libdeflate_crc32(0, input, inputCount)
        let header = GzipMember.header(level: level, deflated: deflated, input: inputCount, last: isLast)
        header.withUnsafeBytes { output.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let trailer = GzipMember.trailer(crc: crc, input: inputCount)
        trailer.withUnsafeBytes {
            (output + GzipMember.headerSize + deflated).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
        }
        outputCount = GzipMember.headerSize + deflated + GzipMember.trailerSize
    }

    /// Decompresses the member again as a reader will (pgkeep's header recognised, libdeflate's
    /// gzip decoder checking CRC-32 and length) into `check`, and compares the result with the
    /// input byte for byte; the member must be consumed exactly to its end.
    func verify(with decompressor: OpaquePointer, check: UnsafeMutableRawPointer, checkCapacity: Int) throws {
        let head = GzipMember.classify(UnsafeRawBufferPointer(start: output, count: min(outputCount, 64)))
        var consumed = 0
        var produced = 0
        let rc = libdeflate_gzip_decompress_ex(
            decompressor, output, outputCount, check, checkCapacity, &consumed, &produced)
        guard head == .pgkeep(GzipMember.Lengths(member: outputCount, input: inputCount, last: isLast)),
            rc == LIBDEFLATE_SUCCESS, consumed == outputCount, produced == inputCount,
            memcmp(check, input, inputCount) == 0
        else {
            throw PGKeepError(
                .backup,
                "verification failed: block \(sequence) of the gzip stream does not decompress to what pg_dump wrote "
                    + "(libdeflate returned \(rc.rawValue), \(produced) of \(inputCount) bytes)",
                hint: "this points at memory or library corruption on this machine; no backup was recorded")
        }
    }
}
