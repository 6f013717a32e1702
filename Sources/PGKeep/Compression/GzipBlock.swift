import CZlib
import Foundation

/// One block of the parallel gzip stream: up to 128 KiB of input with the 32 KiB before it as
/// the dictionary, its deflated output, and room to inflate that output again. A block belongs
/// to the one thread that took it (reader, worker, writer in turn) until it is handed back.
final class GzipBlock {
    let input = UnsafeMutableRawPointer.allocate(byteCount: ParallelGzipWriter.blockSize, alignment: 16)
    var inputCount = 0
    let dictionary = UnsafeMutableRawPointer.allocate(byteCount: ParallelGzipWriter.windowSize, alignment: 16)
    var dictionaryCount = 0
    let outputCapacity: Int
    let output: UnsafeMutableRawPointer
    /// Where the worker inflates the output again to check it.
    let check = UnsafeMutableRawPointer.allocate(byteCount: ParallelGzipWriter.blockSize + 64, alignment: 16)
    var outputCount = 0
    var crc: UInt = 0
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
        dictionary.deallocate()
        output.deallocate()
        check.deallocate()
    }

    func deflate(stream: UnsafeMutablePointer<z_stream>) throws {
        deflateReset(stream)
        if dictionaryCount > 0 {
            deflateSetDictionary(
                stream, dictionary.assumingMemoryBound(to: Bytef.self), uInt(dictionaryCount))
        }
        stream.pointee.next_in = input.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_in = uInt(inputCount)
        stream.pointee.next_out = output.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(outputCapacity)
        let rc = CZlib.deflate(stream, isLast ? Z_FINISH : Z_SYNC_FLUSH)
        let expected = isLast ? Z_STREAM_END : Z_OK
        guard rc == expected, stream.pointee.avail_in == 0 else {
            throw PGKeepError(.backup, "zlib failed to compress a block (deflate returned \(rc))")
        }
        outputCount = outputCapacity - Int(stream.pointee.avail_out)
        crc = UInt(crc32(0, input.assumingMemoryBound(to: Bytef.self), uInt(inputCount)))
    }

    /// Inflates the block's output with the block's dictionary and checks that it gives back the
    /// input exactly, that it consumes the whole output, and that only the last block ends the stream.
    func verify(inflater: UnsafeMutablePointer<z_stream>) throws {
        inflateReset(inflater)
        if dictionaryCount > 0 {
            inflateSetDictionary(
                inflater, dictionary.assumingMemoryBound(to: Bytef.self), uInt(dictionaryCount))
        }
        inflater.pointee.next_in = output.assumingMemoryBound(to: Bytef.self)
        inflater.pointee.avail_in = uInt(outputCount)
        inflater.pointee.next_out = check.assumingMemoryBound(to: Bytef.self)
        inflater.pointee.avail_out = uInt(ParallelGzipWriter.blockSize + 64)
        let rc = inflate(inflater, Z_SYNC_FLUSH)
        let produced = ParallelGzipWriter.blockSize + 64 - Int(inflater.pointee.avail_out)
        let endedRight = isLast ? rc == Z_STREAM_END : (rc == Z_OK || rc == Z_BUF_ERROR)
        guard endedRight, inflater.pointee.avail_in == 0, produced == inputCount,
            memcmp(check, input, inputCount) == 0
        else {
            throw PGKeepError(
                .backup,
                "verification failed: block \(sequence) of the gzip stream does not decompress to what pg_dump wrote "
                    + "(inflate returned \(rc), \(produced) of \(inputCount) bytes)",
                hint: "this points at memory or library corruption on this machine; no backup was recorded")
        }
    }
}

/// The gzip header and trailer around the deflate blocks.
enum GzipFraming {
    static func writeHeader(_ sink: HashingSink, level: Int32) throws {
        // Magic, deflate, no flags, no mtime (reproducible), XFL by level, OS = Unix.
        let xfl: UInt8 = level >= 9 ? 2 : (level == 1 ? 4 : 0)
        let header: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]
        try header.withUnsafeBytes { try sink.write($0) }
    }

    static func writeTrailer(_ sink: HashingSink, crc: UInt, size: Int64) throws {
        var trailer = [UInt8]()
        let c = UInt32(truncatingIfNeeded: crc)
        let s = UInt32(truncatingIfNeeded: size)
        for shift in stride(from: 0, to: 32, by: 8) { trailer.append(UInt8(truncatingIfNeeded: c >> UInt32(shift))) }
        for shift in stride(from: 0, to: 32, by: 8) { trailer.append(UInt8(truncatingIfNeeded: s >> UInt32(shift))) }
        try trailer.withUnsafeBytes { try sink.write($0) }
    }
}
