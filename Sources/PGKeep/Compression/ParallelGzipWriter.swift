import CDeflate
import CZlib
import Foundation

/// Compresses a stream into standard gzip using several cores: the input is cut into blocks of
/// 1 MiB, and each block becomes one complete gzip member (RFC 1952: its own header, CRC-32 and
/// length), compressed by libdeflate on its own thread and written in order. A file of several
/// members is one gzip file to `gunzip`, `zcat`, `pigz -d` and zlib, which read the members one
/// after the other. libdeflate has no streaming API and no preset dictionary, so the blocks cannot
/// be joined into one member the way pigz joins zlib's; each member starts afresh, which at 1 MiB
/// costs 0.03 % of the size against 8 MiB members on a large dump (0.17 % on Pagila; see
/// docs/performance.md), and libdeflate compresses about twice as fast as zlib at the same level
/// and smaller. The members carry pgkeep's mark (`GzipMember`), the last one its own, so pgkeep's
/// reader takes them whole with libdeflate, knows a file cut at a member boundary, and the verifier
/// walks them. The last block (shorter than the others, perhaps empty) is always written.
///
/// Every block is verified as it is made: the worker decompresses its member again with
/// libdeflate's gzip decoder (which checks the CRC-32 and length) and compares the result with the
/// input, byte for byte. The members are independent, so this proves the whole file decompresses
/// to exactly what pg_dump wrote, and costs no serial pass after the dump.
///
/// Memory is bounded: at most `slots` blocks are in flight (about 2 MiB each), and each worker
/// holds a 1 MiB buffer to decompress into.
// The slots and results are shared under `condition` (an NSCondition); each slot's buffers belong
// to the one thread that took the slot until it is handed back.
public final class ParallelGzipWriter: @unchecked Sendable {
    public struct Result: Sendable {
        public var uncompressedBytes: Int64
        public var compressedBytes: Int64
        /// CRC-32 of the whole uncompressed stream (the members' CRC-32s combined in order).
        public var crc32: UInt32
        /// The gzip members written.
        public var members: Int
        /// The last bytes of the uncompressed stream (up to 256), for end-of-dump checks.
        public var tail: [UInt8]
    }

    /// Measured on pg_dump output (docs/performance.md): 1, 2, 4 and 8 MiB members give the same
    /// size within 0.05 % and the same speed, so the smallest keeps memory and latency low.
    static let blockSize = 1 << 20

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
    ///   - level: gzip's level 1...9, as libdeflate's level of the same number (see docs/backup.md).
    ///   - workers: compression threads; defaults to the number of cores.
    public init(level: Int32, workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.level = level
        self.workerCount = max(1, workers)
        let capacity = GzipBlock.capacity(blockSize: ParallelGzipWriter.blockSize)
        slots = (0..<(self.workerCount * 2 + 2)).map { _ in GzipBlock(outputCapacity: capacity) }
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
                var combinedCRC: UInt = 0
                var written: Int64 = 0
                var members = 0
                var tail = StreamTail()
                while let slot = takeNextDone() {
                    // The last block is always written, empty or not: its member carries the end mark.
                    try sink.write(UnsafeRawBufferPointer(start: slot.output, count: slot.outputCount))
                    members += 1
                    // zlib's crc32_combine: libdeflate has no combination of CRC-32s.
                    combinedCRC =
                        slot.sequence == 0
                        ? UInt(slot.crc)
                        : UInt(crc32_combine(uLong(combinedCRC), uLong(slot.crc), off_t(slot.inputCount)))
                    written += Int64(slot.inputCount)
                    let last = slot.isLast
                    tail.keep(UnsafeRawBufferPointer(start: slot.input, count: slot.inputCount))
                    release(slot)
                    progress?(written, sink.bytesWritten)
                    if last {
                        condition.lock()
                        self.writerResult = Result(
                            uncompressedBytes: written, compressedBytes: sink.bytesWritten,
                            crc32: UInt32(truncatingIfNeeded: combinedCRC), members: members, tail: tail.bytes)
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
            totalIn += Int64(n)
            condition.lock()
            slot.state = .queued
            queue.append(sequence % slots.count)
            condition.broadcast()
            condition.unlock()
            if slot.isLast { break }
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
        let compressor = libdeflate_alloc_compressor(level)
        let decompressor = libdeflate_alloc_decompressor()
        let checkCapacity = ParallelGzipWriter.blockSize
        let check = UnsafeMutableRawPointer.allocate(byteCount: checkCapacity, alignment: 16)
        defer {
            libdeflate_free_compressor(compressor)
            libdeflate_free_decompressor(decompressor)
            check.deallocate()
        }
        guard let compressor, let decompressor else {
            fail(
                PGKeepError(
                    .backup, "libdeflate could not start a compressor at level \(level) (out of memory?)",
                    hint: "free some memory or use fewer --threads"))
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
                try slot.compress(with: compressor, level: level)
                try slot.verify(with: decompressor, check: check, checkCapacity: checkCapacity)
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
