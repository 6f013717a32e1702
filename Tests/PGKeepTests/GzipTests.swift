import Foundation
import Testing

@testable import PGKeep

/// The parallel writer must produce a standard gzip file (one member per block) that pgkeep's
/// reader and the stock gzip tool decompress to exactly the input, at every block boundary.
@Suite struct GzipTests {
    static func tempDir() -> String {
        let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("pgkeep-gz-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Mixed data: compressible text runs and incompressible random runs.
    static func sample(_ count: Int, seed: UInt64) -> Data {
        var state = seed | 1
        var bytes = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            let run = Int(state % 5000) + 1
            let random = state % 3 == 0
            for j in 0..<min(run, count - i) {
                if random {
                    state ^= state << 13
                    state ^= state >> 7
                    state ^= state << 17
                    bytes[i + j] = UInt8(truncatingIfNeeded: state)
                } else {
                    bytes[i + j] = UInt8(ascii: "a") + UInt8((i + j) % 26)
                }
            }
            i += run
        }
        return Data(bytes)
    }

    /// `data` written to a file, then compressed from it by `write` into a new private file:
    /// that file, what `write` returned, and the sha256 of what went in (or into /dev/full).
    static func writeThrough<R>(
        _ data: Data, fullDisk: Bool = false, _ write: (Int32, HashingSink) throws -> R
    ) throws -> (path: String, result: R, sha: String) {
        let dir = tempDir()
        let input = (dir as NSString).appendingPathComponent("in")
        _ = FileManager.default.createFile(atPath: input, contents: data)
        let output = fullDisk ? "/dev/full" : (dir as NSString).appendingPathComponent("out")
        let inFD = open(input, O_RDONLY)
        defer { close(inFD) }
        let outFD = fullDisk ? open(output, O_WRONLY) : try FileSystem.createPrivateFile(output)
        defer { close(outFD) }
        let sink = HashingSink(fd: outFD, path: output)
        let result = try write(inFD, sink)
        return (output, result, sink.finalizeHex())
    }

    /// The file decompressed whole with `codec`'s reader.
    static func readBack(_ path: String, _ codec: Codec, sourceLocation: SourceLocation = #_sourceLocation) throws -> (
        Data, DecompressedStream
    ) {
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var out = Data()
        let r = try codec.decompress(fd: fd, path: path) {
            out.append(contentsOf: $0)
            return true
        }
        return (out, r)
    }

    func compress(_ data: Data, level: Int32 = 6, workers: Int = 2) throws -> (
        path: String, result: ParallelGzipWriter.Result, sha: String
    ) {
        try Self.writeThrough(data) {
            try ParallelGzipWriter(level: level, workers: workers).compress(from: $0, what: "test input", to: $1)
        }
    }

    func readBack(_ path: String) throws -> (Data, DecompressedStream) { try Self.readBack(path, .gzip) }

    func stockGunzip(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Data {
        let (out, result) = try ChildProcess.capture(Command(executable: "/bin/gzip", arguments: ["-dc", path]))
        #expect(result.succeeded, "gzip -dc failed: \(result.stderr)", sourceLocation: sourceLocation)
        return out
    }

    @Test(arguments: [0, 1, 1000, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 2 << 20, 3 * (1 << 20) + 17, 5_000_000])
    func roundTripsThroughZlibAndStockGzip(size: Int) throws {
        let data = Self.sample(size, seed: UInt64(size) + 7)
        let (path, result, sha) = try compress(data)
        #expect(result.uncompressedBytes == Int64(size))
        // One member per started block, and a last (perhaps empty) one when the input fills its blocks.
        #expect(result.members == size / ParallelGzipWriter.blockSize + 1)
        let (back, r) = try readBack(path)
        #expect(back == data)
        #expect(r.sha256 == sha)
        #expect(r.compressedBytes == result.compressedBytes)
        #expect(try stockGunzip(path) == data)
    }

    @Test(arguments: [1, 9])
    func everyLevelAndOneWorkerWork(level: Int32) throws {
        let data = Self.sample(1_000_000, seed: 42)
        let (path, _, _) = try compress(data, level: level, workers: 1)
        #expect(try stockGunzip(path) == data)
    }

    @Test func compressesLikeSerialGzip() throws {
        // Blocks of 1 MiB keep the ratio close to one serial stream.
        let data = Data(String(repeating: "INSERT INTO t VALUES (1, 'some text that repeats');\n", count: 100_000).utf8)
        let (_, result, _) = try compress(data)
        #expect(result.compressedBytes < Int64(data.count) / 50)
    }

    @Test func truncatedStreamsAreRejected() throws {
        let data = Self.sample(400_000, seed: 3)
        let (path, result, _) = try compress(data)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for cut in [5, 100, Int(result.compressedBytes) / 2, Int(result.compressedBytes) - 4] {
            let truncated = path + ".cut"
            _ = FileManager.default.createFile(atPath: truncated, contents: bytes.prefix(cut))
            #expect(throws: PGKeepError.self) { _ = try readBack(truncated) }
        }
    }

    @Test func corruptionIsRejected() throws {
        let data = Self.sample(400_000, seed: 4)
        let (path, _, _) = try compress(data)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xff
        _ = FileManager.default.createFile(atPath: path, contents: bytes)
        #expect(throws: PGKeepError.self) { _ = try readBack(path) }
    }

    @Test func concatenatedMembersAreReadLikeGunzip() throws {
        let a = Self.sample(200_000, seed: 5)
        let b = Self.sample(300_000, seed: 6)
        let pa = try compress(a).path
        let pb = try compress(b).path
        let joined = pa + ".joined"
        _ = FileManager.default.createFile(
            atPath: joined,
            contents: try Data(contentsOf: URL(fileURLWithPath: pa)) + Data(contentsOf: URL(fileURLWithPath: pb)))
        #expect(try readBack(joined).0 == a + b)
    }

    @Test func writeFailuresSurface() throws {
        // /dev/full fails every write with ENOSPC, like a full disk.
        do {
            _ = try Self.writeThrough(Self.sample(1_000_000, seed: 8), fullDisk: true) {
                try ParallelGzipWriter(level: 6).compress(from: $0, what: "x", to: $1)
            }
            Issue.record("expected ENOSPC")
        } catch let error as PGKeepError {
            #expect(error.description.contains("No space left on device"))
            #expect(error.hint?.contains("disk is full") == true)
        }
    }
}
