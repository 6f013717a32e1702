import CZstd
import Foundation

/// Compresses a stream into one standard zstd frame with libzstd's own worker threads
/// (`ZSTD_c_nbWorkers`), with the frame's content checksum on, so `zstd -dc` reads it and checks it.
///
/// Every compressed byte is decompressed again as it is written, on a second thread, by an
/// independent decoder: the frame must end, libzstd must find its checksum (XXH64 of what the
/// compressor was given) right, and the decoder must give back exactly as many bytes as pg_dump
/// wrote. That proves the whole stream decompresses to what pg_dump wrote, with no pass after the dump.
///
/// Memory is bounded: libzstd's jobs are 1 MiB (`ZSTD_c_jobSize`), and at most `queueLimit`
/// compressed chunks wait for the writer.
// `pending`, `producerDone` and `failure` are shared under `condition`; the sink and the decoder
// belong to the writer thread until it has signalled its end.
public final class ZstdWriter: @unchecked Sendable {
    public struct Result: Sendable {
        public var uncompressedBytes: Int64
        public var compressedBytes: Int64
        /// The last bytes of the uncompressed stream (up to 256), for end-of-dump checks.
        public var tail: [UInt8]
    }

    static let chunkSize = 1 << 20
    static let queueLimit = 8

    private let level: Int32
    private let workers: Int32
    private let condition = NSCondition()
    private var pending: [[UInt8]] = []
    private var producerDone = false
    private var writerDone = false
    private var failure: Error?

    /// - Parameters:
    ///   - level: zstd level 1...19.
    ///   - workers: libzstd's compression threads.
    public init(level: Int32, workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.level = level
        self.workers = Int32(max(1, workers))
    }

    /// Reads `inputFD` to EOF and writes the zstd frame into `sink`.
    /// `progress` is called from the writer thread with (bytes in, bytes out).
    public func compress(
        from inputFD: Int32, what: String, to sink: HashingSink,
        progress: (@Sendable (Int64, Int64) -> Void)? = nil
    ) throws -> Result {
        guard let context = ZSTD_createCCtx(), let dctx = ZSTD_createDCtx() else {
            throw PGKeepError(.backup, "libzstd could not start a compressor")
        }
        defer {
            ZSTD_freeCCtx(context)
            ZSTD_freeDCtx(dctx)
        }
        try configure(context)
        let decoder = ZstdDecoder(context: dctx, path: "the zstd stream written to \(sink.path)")
        let writer = Thread { [self] in
            writeLoop(sink: sink, decoder: decoder, progress: progress)
        }
        writer.name = "pgkeep-zstd-writer"
        writer.start()
        var total: Int64 = 0
        var tail = StreamTail()
        do {
            try produce(context, from: inputFD, what: what, total: &total, tail: &tail)
        } catch {
            fail(error)
        }
        condition.lock()
        producerDone = true
        condition.broadcast()
        while !writerDone { condition.wait() }
        let error = failure
        condition.unlock()
        if let error { throw error }
        try decoder.finish(compressedBytes: sink.bytesWritten)
        guard decoder.produced == total else {
            throw PGKeepError(
                .backup,
                "verification failed: the zstd stream decompresses to \(decoder.produced) bytes, but pg_dump wrote "
                    + "\(total)",
                hint: "this points at memory or library corruption on this machine; no backup was recorded")
        }
        return Result(uncompressedBytes: total, compressedBytes: sink.bytesWritten, tail: tail.bytes)
    }

    private func configure(_ context: OpaquePointer) throws {
        let settings: [(ZSTD_cParameter, Int32, String)] = [
            (ZSTD_c_compressionLevel, level, "level \(level)"),
            (ZSTD_c_checksumFlag, 1, "the content checksum"),
            (ZSTD_c_nbWorkers, workers, "\(workers) worker threads"),
            (ZSTD_c_jobSize, Int32(Self.chunkSize), "1 MiB jobs"),
        ]
        for (parameter, value, what) in settings
        where ZSTD_isError(ZSTD_CCtx_setParameter(context, parameter, value)) != 0 {
            throw PGKeepError(
                .backup, "libzstd refused \(what)",
                hint: "this libzstd may be built without threads; try --threads 1 or --compress gzip")
        }
    }

    /// The calling thread: pg_dump's pipe → libzstd, its output queued for the writer.
    private func produce(
        _ context: OpaquePointer, from fd: Int32, what: String, total: inout Int64, tail: inout StreamTail
    ) throws {
        let input = UnsafeMutableRawPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        let output = UnsafeMutableRawPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        defer {
            input.deallocate()
            output.deallocate()
        }
        while true {
            let n = try readFully(fd, into: input, count: Self.chunkSize, what: what)
            total += Int64(n)
            tail.keep(UnsafeRawBufferPointer(start: input, count: n))
            var inBuffer = ZSTD_inBuffer(src: input, size: n, pos: 0)
            let mode = n == 0 ? ZSTD_e_end : ZSTD_e_continue
            while true {
                var outBuffer = ZSTD_outBuffer(dst: output, size: Self.chunkSize, pos: 0)
                let rc = ZSTD_compressStream2(context, &outBuffer, &inBuffer, mode)
                if ZSTD_isError(rc) != 0 {
                    throw PGKeepError(
                        .backup, "libzstd failed to compress: \(String(cString: ZSTD_getErrorName(rc)))")
                }
                if outBuffer.pos > 0 {
                    try enqueue(Array(UnsafeRawBufferPointer(start: output, count: outBuffer.pos)))
                }
                // e_continue: done once the input is taken; e_end: once the frame is flushed (rc 0).
                if mode == ZSTD_e_end ? rc == 0 : inBuffer.pos == inBuffer.size { break }
            }
            if n == 0 { return }
        }
    }

    private func enqueue(_ chunk: [UInt8]) throws {
        condition.lock()
        defer { condition.unlock() }
        while pending.count >= Self.queueLimit && failure == nil { condition.wait() }
        if let failure { throw failure }
        pending.append(chunk)
        condition.broadcast()
    }

    /// The writer thread: each chunk to the file (hashed there) and through the decoder.
    private func writeLoop(
        sink: HashingSink, decoder: ZstdDecoder, progress: (@Sendable (Int64, Int64) -> Void)?
    ) {
        defer {
            condition.lock()
            writerDone = true
            condition.broadcast()
            condition.unlock()
        }
        while true {
            condition.lock()
            while pending.isEmpty && !producerDone && failure == nil { condition.wait() }
            if failure != nil || pending.isEmpty {
                condition.unlock()
                return
            }
            let chunk = pending.removeFirst()
            condition.broadcast()
            condition.unlock()
            do {
                try chunk.withUnsafeBytes { bytes in
                    try sink.write(bytes)
                    do {
                        _ = try decoder.feed(bytes, at: sink.bytesWritten - Int64(bytes.count)) { _ in true }
                    } catch let error as PGKeepError {
                        throw PGKeepError(
                            .backup, "verification failed: \(error.message)",
                            hint: "this points at memory or library corruption on this machine; no backup was recorded")
                    }
                }
            } catch {
                fail(error)
                return
            }
            progress?(decoder.produced, sink.bytesWritten)
        }
    }

    private func fail(_ error: Error) {
        condition.lock()
        if failure == nil { failure = error }
        condition.broadcast()
        condition.unlock()
    }
}
