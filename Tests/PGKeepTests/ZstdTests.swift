import Foundation
import Testing

@testable import PGKeep

/// The zstd writer must produce one standard zstd frame that both libzstd (ZstdReader) and the
/// stock zstd tool decompress to exactly the input; damage of every kind must be caught.
@Suite struct ZstdTests {
    func compress(_ data: Data, level: Int32 = 3, workers: Int = 2) throws -> (
        path: String, result: ZstdWriter.Result, sha: String
    ) {
        try GzipTests.writeThrough(data) {
            try ZstdWriter(level: level, workers: workers).compress(from: $0, what: "test input", to: $1)
        }
    }

    func readBack(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (
        Data, DecompressedStream
    ) { try GzipTests.readBack(path, .zstd) }

    func stockZstd(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Data {
        let (out, result) = try ChildProcess.capture(
            Command(executable: "/usr/bin/zstd", arguments: ["-dc", "--no-progress", path]))
        #expect(result.succeeded, "zstd -dc failed: \(result.stderr)", sourceLocation: sourceLocation)
        return out
    }

    @Test(arguments: [0, 1, 1000, 1_048_575, 1_048_576, 1_048_577, 3 * 1_048_576 + 17, 9_000_000])
    func roundTripsThroughLibzstdAndStockZstd(size: Int) throws {
        let data = GzipTests.sample(size, seed: UInt64(size) + 11)
        let (path, result, sha) = try compress(data)
        #expect(result.uncompressedBytes == Int64(size))
        #expect(result.tail == Array(data.suffix(256)))
        let (back, r) = try readBack(path)
        #expect(back == data)
        #expect(r.sha256 == sha)
        #expect(r.complete)
        #expect(r.compressedBytes == result.compressedBytes)
        #expect(try stockZstd(path) == data)
        // The frame carries its content checksum, which `zstd -lv` reports.
        let (info, _) = try ChildProcess.capture(Command(executable: "/usr/bin/zstd", arguments: ["-lv", path]))
        #expect(String(decoding: info, as: UTF8.self).contains("Check: XXH64"))
    }

    @Test(arguments: [1, 19])
    func everyLevelAndOneWorkerWork(level: Int32) throws {
        let data = GzipTests.sample(2_000_000, seed: 42)
        let (path, _, _) = try compress(data, level: level, workers: 1)
        #expect(try stockZstd(path) == data)
    }

    @Test func compressesBetterThanGzipOnDumpText() throws {
        let data = Data(
            (0..<200_000).map { "\($0)\tcustomer \($0 % 977)\t2026-11-\(10 + $0 % 18)\t\($0 * 37 % 10_000).50\n" }
                .joined().utf8)
        let zstd = try compress(data).result.compressedBytes
        let gzip = try GzipTests.writeThrough(data) {
            try ParallelGzipWriter(level: 6).compress(from: $0, what: "x", to: $1)
        }.result.compressedBytes
        #expect(zstd < gzip, "zstd \(zstd) bytes, gzip \(gzip)")
    }

    @Test func truncatedStreamsAreRejected() throws {
        let data = GzipTests.sample(3_000_000, seed: 3)
        let (path, result, _) = try compress(data)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for cut in [3, 100, Int(result.compressedBytes) / 2, Int(result.compressedBytes) - 4] {
            let truncated = path + ".cut"
            _ = FileManager.default.createFile(atPath: truncated, contents: bytes.prefix(cut))
            #expect(throws: PGKeepError.self) { _ = try readBack(truncated) }
        }
        let cut = path + ".cut"
        _ = FileManager.default.createFile(atPath: cut, contents: bytes.prefix(bytes.count - 4))
        do {
            _ = try readBack(cut)
        } catch let error as PGKeepError {
            #expect(error.message.contains("truncated"), "\(error.message)")
        }
    }

    @Test(arguments: ["middle", "checksum"])
    func corruptionIsRejected(place: String) throws {
        let data = GzipTests.sample(3_000_000, seed: 4)
        let (path, _, _) = try compress(data)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        // The last 4 bytes are the content checksum: a flip there leaves every block intact.
        bytes[place == "middle" ? bytes.count / 2 : bytes.count - 2] ^= 0xff
        _ = FileManager.default.createFile(atPath: path, contents: bytes)
        #expect(throws: PGKeepError.self) { _ = try readBack(path) }
    }

    @Test func concatenatedFramesAreReadLikeZstdAndGarbageAfterThemIsNot() throws {
        let a = GzipTests.sample(200_000, seed: 5)
        let b = GzipTests.sample(1_300_000, seed: 6)
        let pa = try compress(a).path
        let pb = try compress(b).path
        let joined = pa + ".joined"
        let both = try Data(contentsOf: URL(fileURLWithPath: pa)) + Data(contentsOf: URL(fileURLWithPath: pb))
        _ = FileManager.default.createFile(atPath: joined, contents: both)
        #expect(try readBack(joined).0 == a + b)
        _ = FileManager.default.createFile(atPath: joined, contents: both + Data("trailing junk".utf8))
        do {
            _ = try readBack(joined)
            Issue.record("garbage after the last frame was accepted")
        } catch let error as PGKeepError {
            #expect(error.message.contains("after the end of its zstd stream"), "\(error.message)")
        }
    }

    @Test func aReaderThatHasEnoughStillHashesEverything() throws {
        let data = GzipTests.sample(4_000_000, seed: 9)
        let (path, _, sha) = try compress(data)
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var seen = 0
        let r = try Codec.zstd.decompress(fd: fd, path: path) { chunk in
            seen += chunk.count
            return false
        }
        #expect(!r.complete)
        #expect(r.sha256 == sha)
        #expect(seen > 0 && seen < data.count)
    }

    @Test func writeFailuresSurface() throws {
        do {
            _ = try GzipTests.writeThrough(GzipTests.sample(3_000_000, seed: 8), fullDisk: true) {
                try ZstdWriter(level: 3).compress(from: $0, what: "x", to: $1)
            }
            Issue.record("expected ENOSPC")
        } catch let error as PGKeepError {
            #expect(error.description.contains("No space left on device"))
        }
    }

    @Test func codecsAreFoundByTheirMagicNumbers() {
        #expect(Codec.detect([0x1f, 0x8b, 8, 0]) == .gzip)
        #expect(Codec.detect([0x28, 0xb5, 0x2f, 0xfd, 0x04]) == .zstd)
        #expect(Codec.detect(Array("PGDMP".utf8)) == nil)
        #expect(Codec.detect([0x28, 0xb5]) == nil)
    }

    @Test func compressionChoicesParse() throws {
        #expect(try CompressionChoice.parse("zstd") == CompressionChoice(codec: .zstd, level: 3))
        #expect(try CompressionChoice.parse("zstd:19") == CompressionChoice(codec: .zstd, level: 19))
        #expect(try CompressionChoice.parse("gzip") == CompressionChoice(codec: .gzip, level: 6))
        #expect(try CompressionChoice.parse("GZIP:1") == CompressionChoice(codec: .gzip, level: 1))
        #expect(try CompressionChoice.parse("none").codec == nil)
        for bad in ["zstd:0", "zstd:20", "gzip:10", "lz4", "zstd:", "zstd:x", ""] {
            #expect(throws: PGKeepError.self, "\(bad)") { _ = try CompressionChoice.parse(bad) }
        }
    }
}

@Suite struct UpgradeInstructionsCodecTests {
    func record(_ file: String, format: BackupFormat, algorithm: String) -> BackupRecord {
        let m = Manifest(
            database: "shop", file: file, format: format,
            compression: .init(algorithm: algorithm, level: 3, appliedBy: "pgkeep"), size: 10, sha256: "ab",
            uncompressedSize: 20, files: nil, startedAt: "2026-04-02T02:00:00Z", finishedAt: "2026-04-02T02:00:01Z",
            durationSeconds: 1.0, label: nil, serverVersion: "15.18", serverVersionNum: 150018,
            pgDumpVersion: "15.18", pgDumpOptions: [], source: "postgresql://u@h/shop",
            dockerCompose: nil, verification: .init(verifiedAt: "2026-04-02T02:00:01Z", sha256Reread: true))
        return BackupRecord(path: "/b/shop/" + file, manifestPath: "/b/shop/\(file).manifest.json", manifest: m)
    }

    /// The printed stock commands decompress each file with the tool for its codec.
    @Test func stockCommandsUseTheCodecsOwnTool() {
        let text = UpgradeInstructions.text(
            records: [
                record("shop_2026-04-02T020000Z.dump.zst", format: .custom, algorithm: "zstd"),
                record("shop_2026-04-02T020000Z.sql.gz", format: .plain, algorithm: "gzip"),
            ], source: "postgresql://u@h", newServer: nil, label: nil)
        #expect(text.contains("zstd -dc /b/shop/shop_2026-04-02T020000Z.dump.zst | pg_restore"), "\(text)")
        #expect(text.contains("gunzip -c /b/shop/shop_2026-04-02T020000Z.sql.gz | psql"), "\(text)")
    }
}
