import CDeflate
import Foundation
import Testing

@testable import PGKeep

/// pgkeep's gzip files are several members (one per block, compressed by libdeflate): every stock
/// reader must read them whole, pgkeep's reader must read them mixed with anyone else's members,
/// and a cut or a flipped byte anywhere must be refused, by the reader and by the verifier's walk.
@Suite struct GzipMemberTests {
    static let size = 2 * (1 << 20) + 300_000

    /// `data` through the parallel writer: the file's bytes and what the writer returned.
    func written(_ data: Data) throws -> (bytes: Data, result: ParallelGzipWriter.Result, path: String) {
        let (path, result, _) = try GzipTests.writeThrough(data) {
            try ParallelGzipWriter(level: 6, workers: 2).compress(from: $0, what: "test input", to: $1)
        }
        return (try Data(contentsOf: URL(fileURLWithPath: path)), result, path)
    }

    func file(_ bytes: Data) -> String {
        let path = GzipTests.tempDir() + "/f.gz"
        _ = FileManager.default.createFile(atPath: path, contents: bytes)
        return path
    }

    /// Runs a stock tool on `input`'s bytes through stdin or a path and returns its stdout.
    func stock(_ executable: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws
        -> Data
    {
        let (out, result) = try ChildProcess.capture(Command(executable: executable, arguments: arguments))
        #expect(result.succeeded, "\(executable) \(arguments) failed: \(result.stderr)", sourceLocation: sourceLocation)
        return out
    }

    /// Where each member starts, from the headers (and the file's end).
    func boundaries(_ bytes: Data) -> [Int] {
        var starts: [Int] = []
        var at = 0
        while at < bytes.count {
            starts.append(at)
            let head = bytes.subdata(in: at..<min(at + GzipMember.headerSize, bytes.count))
            guard case .pgkeep(let lengths) = head.withUnsafeBytes({ GzipMember.classify($0) }) else { break }
            at += lengths.member
        }
        return starts + [bytes.count]
    }

    @Test func everyStockReaderReadsEveryMember() throws {
        let data = GzipTests.sample(Self.size, seed: 11)
        let (bytes, result, path) = try written(data)
        #expect(result.members == 3)
        #expect(boundaries(bytes).count == 4, "three pgkeep members tile the file")
        #expect(try stock("/bin/gzip", ["-dc", path]) == data)
        #expect(try stock("/bin/zcat", [path]) == data)
        #expect(try stock("/usr/bin/pigz", ["-dc", path]) == data)
        let python = "import gzip, sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())"
        #expect(try stock("/usr/bin/env", ["python3", "-c", python, path]) == data)
        #expect(try GzipTests.readBack(path, .gzip).0 == data)
    }

    @Test func olderAndForeignFilesAreReadByZlib() throws {
        let data = GzipTests.sample(Self.size, seed: 12)
        let raw = GzipTests.tempDir() + "/raw"
        _ = FileManager.default.createFile(atPath: raw, contents: data)
        // pigz is the method of pgkeep's writer before libdeflate: one member of many blocks.
        let pigz = file(try stock("/usr/bin/pigz", ["-6", "-c", raw]))
        let gzip = file(try stock("/bin/gzip", ["-6", "-c", raw]))
        for path in [pigz, gzip] {
            let (back, r) = try GzipTests.readBack(path, .gzip)
            #expect(back == data)
            #expect(r.complete)
        }
    }

    @Test func pgkeepsMembersMixWithOthers() throws {
        let a = GzipTests.sample(1_500_000, seed: 13)
        let b = GzipTests.sample(700_000, seed: 14)
        let c = GzipTests.sample(1_200_000, seed: 15)
        let raw = GzipTests.tempDir() + "/b"
        _ = FileManager.default.createFile(atPath: raw, contents: b)
        let stockB = try stock("/bin/gzip", ["-6", "-n", "-c", raw])
        // A member with an FEXTRA `PK` subfield of someone else's: zlib's, not libdeflate's.
        var lookalike = Data([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 3, 16, 0, 0x50, 0x4b, 12, 0, 0x58, 0x59, 0x5a, 0x31])
        lookalike += Data(repeating: 0xee, count: 8) + stockB.dropFirst(10)
        let mixed = try written(a).bytes + stockB + written(c).bytes + lookalike
        let (back, r) = try GzipTests.readBack(file(mixed), .gzip)
        #expect(back == a + b + c + b)
        #expect(r.complete)
    }

    @Test func aCutAnywhereIsRefused() throws {
        let (bytes, _, _) = try written(GzipTests.sample(Self.size, seed: 16))
        let starts = boundaries(bytes)
        var cuts: [Int] = [bytes.count - 1]
        for start in starts.dropLast() { cuts += [0, 1, 10, 27, 28, 5000].map { start + $0 } }
        for cut in cuts where cut > 0 {
            let path = file(bytes.prefix(cut))
            #expect(throws: PGKeepError.self, "cut at \(cut)") { _ = try GzipTests.readBack(path, .gzip) }
        }
        // A cut at a member boundary leaves valid gzip: only pgkeep's last-member mark tells.
        let atBoundary = file(bytes.prefix(starts[2]))
        #expect(try stock("/bin/gzip", ["-t", atBoundary]).isEmpty)
        do {
            _ = try GzipTests.readBack(atBoundary, .gzip)
            Issue.record("a file cut at a member boundary was read")
        } catch let error as PGKeepError {
            #expect(error.description.contains("truncated"), "\(error)")
        }
    }

    /// In every member: the reader refuses a flip in the lengths, the deflate data, CRC-32 or ISIZE;
    /// the verifier's walk also refuses one in pgkeep's mark (flags, tag). A flip there leaves the
    /// content whole (gunzip reads it too; only the file's sha256 shows it).
    @Test func aFlippedByteIsRefused() throws {
        let data = GzipTests.sample(Self.size, seed: 17)
        let (bytes, result, _) = try written(data)
        let starts = boundaries(bytes)
        for (start, end) in zip(starts, starts.dropFirst()) {
            let read: [Int] =
                [20, 23, 24, 27, 28].map { start + $0 } + [(start + end) / 2] + [9, 8, 5, 4, 1].map { end - $0 }
            for offset in [start + 3, start + 19] + read {
                var damaged = bytes
                damaged[offset] ^= 0x01
                let path = file(damaged)
                if read.contains(offset) {
                    #expect(throws: PGKeepError.self, "flip at \(offset)") { _ = try GzipTests.readBack(path, .gzip) }
                }
                // The verifier's walk reads headers and trailers only: it sees the frame's bytes.
                if offset < start + 28 || offset >= end - 8 {
                    let fd = open(path, O_RDONLY)
                    defer { close(fd) }
                    #expect(throws: PGKeepError.self, "walk, flip at \(offset)") {
                        try GzipMember.walk(
                            fd: fd, path: path, size: Int64(damaged.count), crc32: result.crc32,
                            input: result.uncompressedBytes)
                    }
                }
            }
        }
    }

    @Test func theWalkAddsTheMembersUp() throws {
        let (bytes, result, path) = try written(GzipTests.sample(Self.size, seed: 18))
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        let size = Int64(bytes.count)
        #expect(
            try GzipMember.walk(fd: fd, path: path, size: size, crc32: result.crc32, input: result.uncompressedBytes)
                == 3)
        #expect(throws: PGKeepError.self) {
            try GzipMember.walk(
                fd: fd, path: path, size: size, crc32: result.crc32 ^ 1, input: result.uncompressedBytes)
        }
        #expect(throws: PGKeepError.self) {
            try GzipMember.walk(
                fd: fd, path: path, size: size, crc32: result.crc32, input: result.uncompressedBytes - 1)
        }
        // A foreign member after pgkeep's is not what pgkeep's writer wrote.
        let joined = file(bytes + (try stock("/bin/gzip", ["-c", path])))
        let jfd = open(joined, O_RDONLY)
        defer { close(jfd) }
        #expect(throws: PGKeepError.self) {
            try GzipMember.walk(
                fd: jfd, path: joined, size: size * 2, crc32: result.crc32, input: result.uncompressedBytes)
        }
    }

    @Test func aHeaderClaimingTooMuchIsRefusedBeforeAnyAllocation() throws {
        var header = GzipMember.header(level: 6, deflated: 10, input: 100, last: true)
        header.replaceSubrange(24..<28, with: [0xff, 0xff, 0xff, 0xff])
        let path = file(Data(header) + Data(repeating: 0, count: 64))
        do {
            _ = try GzipTests.readBack(path, .gzip)
            Issue.record("a header claiming 4 GiB was read")
        } catch let error as PGKeepError {
            #expect(error.description.contains("claims"), "\(error)")
        }
    }

    /// The writer's inline proof: a member that does not decompress to its block is caught before it
    /// is written.
    @Test(arguments: [0, 20, 28, 400, -8, -1])
    func theInlineProofCatchesADamagedMember(offset: Int) throws {
        let data = GzipTests.sample(100_000, seed: 19)
        let block = GzipBlock(outputCapacity: GzipBlock.capacity(blockSize: ParallelGzipWriter.blockSize))
        data.withUnsafeBytes { block.input.copyMemory(from: $0.baseAddress!, byteCount: data.count) }
        block.inputCount = data.count
        block.isLast = true
        let compressor = try #require(libdeflate_alloc_compressor(6))
        let decompressor = try #require(libdeflate_alloc_decompressor())
        let check = UnsafeMutableRawPointer.allocate(byteCount: ParallelGzipWriter.blockSize, alignment: 16)
        defer {
            libdeflate_free_compressor(compressor)
            libdeflate_free_decompressor(decompressor)
            check.deallocate()
        }
        try block.compress(with: compressor, level: 6)
        try block.verify(with: decompressor, check: check, checkCapacity: ParallelGzipWriter.blockSize)
        let at = offset >= 0 ? offset : block.outputCount + offset
        block.output.storeBytes(
            of: block.output.load(fromByteOffset: at, as: UInt8.self) ^ 0x10, toByteOffset: at, as: UInt8.self)
        do {
            try block.verify(with: decompressor, check: check, checkCapacity: ParallelGzipWriter.blockSize)
            Issue.record("a member damaged at byte \(at) passed the inline proof")
        } catch let error as PGKeepError {
            #expect(error.description.contains("does not decompress to what pg_dump wrote"), "\(error)")
        }
    }
}
