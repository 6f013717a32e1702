import CZlib
import Foundation

/// Compresses a stream into one standard gzip member using several cores, the way pigz does:
/// the input is cut into blocks; each block is deflated on its own thread with the previous
/// 32 KiB as its dictionary and ends on a byte boundary (Z_SYNC_FLUSH), so the raw deflate
/// outputs concatenate into one valid stream; the per-block CRC-32s are combined in order.
/// `gunzip`, `zcat` and zlib read the result like any other .gz file.
///
/// Every block is verified as it is made: the worker inflates its compressed output with the same
/// dictionary and compares the result with the input, byte for byte. Inflating the stream from
/// the start reaches each block with the same 32 KiB window, so this proves the whole stream
/// decompresses to exactly what pg_dump wrote, and costs no serial pass after the dump.
///
/// Memory is bounded: at most `slots` blocks are in flight (about 450 KiB each).
// The slots and results are shared under `condition` (an NSCondition); each slot's buffers belong
// to the one thread that took the slot until it is handed back.
public final class ParallelGzipWriter: @unchecked Sendable {
    public struct Result: Sendable {
        public var uncompressedBytes: Int64
        public var compressedBytes: Int64
        /// CRC-32 of the uncompressed stream, as written in the gzip trailer.
        public var crc32: UInt32
        /// The last bytes of the uncompressed stream (up to 256), for end-of-dump checks.
        public var tail: [UInt8]
    }

    static let blockSize = 128 * 1024
    static let windowSize = 32 * 1024

    private let level: Int32
    private let workerCount: Int
    private let slots: [GzipBlock]
    private let condition = NSCondition()
    private var queue: [Int] = []
    private var queueHead = 0
    private var nextToWrite = 0
    private var failure: Error?
    private var shuttingDown = false
    private var finished = false
    private var threads: [Thread] = []

    /// - Parameters:
    ///   - level: zlib level 1...9.
    ///   - workers: compression threads; defaults to the number of cores.
    public init(level: Int32, workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.level = level
        self.workerCount = max(1, workers)
        let capacity = Int(ParallelGzipWriter.boundFor(ParallelGzipWriter.blockSize)) + 1024
        slots = (0..<(self.workerCount * 2 + 2)).map { _ in GzipBlock(outputCapacity: capacity) }
    }

    static func boundFor(_ n: Int) -> UInt {
        // deflateBound's conservative formula for any level, plus a flush marker.
        UInt(n) + UInt(n >> 12) + UInt(n >> 14) + UInt(n >> 25) + 13 + 16
    }

    /// Reads `inputFD` to EOF and writes the gzip stream into `sink`.
    /// `progress` is called from the writer thread with (bytes in, bytes out).
    public func compress(
        from inputFD: Int32, what: String, to sink: HashingSink,
        progress: (@Sendable (Int64, Int64) -> Void)? = nil
    ) throws -> Result {
        var totalIn: Int64 = 0

        for i in 0..<workerCount {
            let t = Thread { [self] in workerLoop() }
            t.name = "pgkeep-gzip-\(i)"
            threads.append(t)
        }
        let writer = Thread { [self] in
            do {
                try GzipFraming.writeHeader(sink, level: level)
                var combinedCRC: UInt = 0
                var written: Int64 = 0
                var tail = StreamTail()
                while let slot = takeNextDone() {
                    try sink.write(UnsafeRawBufferPointer(start: slot.output, count: slot.outputCount))
                    combinedCRC =
                        slot.sequence == 0
                        ? slot.crc
                        : UInt(crc32_combine(uLong(combinedCRC), uLong(slot.crc), off_t(slot.inputCount)))
                    written += Int64(slot.inputCount)
                    let last = slot.isLast
                    tail.keep(UnsafeRawBufferPointer(start: slot.input, count: slot.inputCount))
                    release(slot)
                    progress?(written, sink.bytesWritten)
                    if last {
                        try GzipFraming.writeTrailer(sink, crc: combinedCRC, size: written)
                        condition.lock()
                        self.writerResult = Result(
                            uncompressedBytes: written, compressedBytes: sink.bytesWritten,
                            crc32: UInt32(truncatingIfNeeded: combinedCRC), tail: tail.bytes)
                        condition.unlock()
                        break
                    }
                }
            } catch {
                fail(error)
            }
            condition.lock()
            finished = true
            runningThreads -= 1
            condition.broadcast()
            condition.unlock()
        }
        writer.name = "pgkeep-gzip-writer"
        threads.append(writer)
        runningThreads = threads.count
        for thread in threads { thread.start() }
        defer { shutdown() }

        var sequence = 0
        var previous: GzipBlock?
        produce: while true {
            let slot = slots[sequence % slots.count]
            condition.lock()
            while slot.state != .free && failure == nil { condition.wait() }
            if failure != nil {
                condition.unlock()
                break produce
            }
            condition.unlock()

            let n: Int
            do {
                n = try readFully(inputFD, into: slot.input, count: ParallelGzipWriter.blockSize, what: what)
            } catch {
                fail(error)
                break produce
            }
            slot.inputCount = n
            slot.sequence = sequence
            slot.isLast = n < ParallelGzipWriter.blockSize
            if let previous {
                let keep = min(ParallelGzipWriter.windowSize, previous.inputCount)
                slot.dictionary.copyMemory(from: previous.input + (previous.inputCount - keep), byteCount: keep)
                slot.dictionaryCount = keep
            } else {
                slot.dictionaryCount = 0
            }
            totalIn += Int64(n)
            condition.lock()
            slot.state = .queued
            queue.append(sequence % slots.count)
            condition.broadcast()
            condition.unlock()
            if slot.isLast { break }
            previous = slot
            sequence += 1
        }

        condition.lock()
        while !finished && failure == nil { condition.wait() }
        let error = failure
        let writerResult = self.writerResult
        condition.unlock()
        if let error { throw error }
        guard let result = writerResult, result.uncompressedBytes == totalIn else {
            throw PGKeepError(.backup, "internal error: the gzip writer lost data (\(totalIn) bytes read)")
        }
        return result
    }

    private func fail(_ error: Error) {
        condition.lock()
        if failure == nil { failure = error }
        condition.broadcast()
        condition.unlock()
    }

    private func shutdown() {
        condition.lock()
        shuttingDown = true
        condition.broadcast()
        condition.unlock()
        // Threads exit on their own once they see shuttingDown; wait for all of them (the
        // writer too) so that nothing touches the slots or the sink after we return.
        condition.lock()
        while runningThreads > 0 { condition.wait() }
        condition.unlock()
    }

    private var runningThreads = 0
    private var writerResult: Result?

    private func takeNextDone() -> GzipBlock? {
        condition.lock()
        defer { condition.unlock() }
        let slot = slots[nextToWrite % slots.count]
        while !(slot.state == .done && slot.sequence == nextToWrite) {
            if failure != nil || shuttingDown { return nil }
            condition.wait()
        }
        return slot
    }

    private func release(_ slot: GzipBlock) {
        condition.lock()
        slot.state = .free
        nextToWrite += 1
        condition.broadcast()
        condition.unlock()
    }

    private func workerLoop() {
        defer {
            condition.lock()
            runningThreads -= 1
            condition.broadcast()
            condition.unlock()
        }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            deflateEnd(stream)
            stream.deallocate()
        }
        let inflater = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        inflater.initialize(to: z_stream())
        defer {
            inflateEnd(inflater)
            inflater.deallocate()
        }
        let rc = deflateInit2_(
            stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY,
            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        let irc = inflateInit2_(inflater, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK, irc == Z_OK else {
            fail(PGKeepError(.backup, "zlib could not start a compressor (deflateInit2 returned \(rc))"))
            return
        }
        while true {
            condition.lock()
            while queueHead >= queue.count && !shuttingDown && failure == nil { condition.wait() }
            if shuttingDown || failure != nil {
                condition.unlock()
                return
            }
            let index = queue[queueHead]
            queueHead += 1
            if queueHead > 64 {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            condition.unlock()

            let slot = slots[index]
            do {
                try slot.deflate(stream: stream)
                try slot.verify(inflater: inflater)
            } catch {
                fail(error)
                return
            }
            condition.lock()
            slot.state = .done
            condition.broadcast()
            condition.unlock()
        }
    }
}
