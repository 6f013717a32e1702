import Foundation
import Testing

@testable import PGKeep

/// pgkeep's gzip backups are several gzip members (libdeflate, one per 1 MiB): the stock tools must
/// read them to the byte, older single-member files (pgkeep before libdeflate, pigz, gzip) must
/// still restore, a file mixing pgkeep's members with others must restore, and a cut or a flipped
/// byte anywhere must be refused by verify and by restore with the target untouched.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct GzipMembersTests {
    /// A default (gzip) backup of Pagila: the manifest and the data file.
    func backup(_ format: String = "custom", sourceLocation: SourceLocation = #_sourceLocation) throws -> (
        manifest: String, data: String
    ) {
        let dir = TestServer.tempDir("gzm")
        let run = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--format", format])
        #expect(run.status == 0, "\(run.stderr)", sourceLocation: sourceLocation)
        let manifest = try #require(try TestServer.manifests(dir).first, sourceLocation: sourceLocation)
        return (manifest.path, (manifest.path as NSString).deletingLastPathComponent + "/" + manifest.manifest.file)
    }

    /// The start of every pgkeep member, and the file's end.
    func members(_ bytes: Data) -> [Int] {
        var starts: [Int] = []
        var at = 0
        while at < bytes.count {
            let head = bytes.subdata(in: at..<min(at + GzipMember.headerSize, bytes.count))
            guard case .pgkeep(let lengths) = head.withUnsafeBytes({ GzipMember.classify($0) }) else { break }
            starts.append(at)
            at += lengths.member
        }
        return starts + [at]
    }

    func expectSameAsPagila(_ db: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try TestServer.schema(db) == TestServer.schema(TestServer.pagila), sourceLocation: sourceLocation)
        #expect(try TestServer.rowCounts(db) == TestServer.rowCounts(TestServer.pagila), sourceLocation: sourceLocation)
    }

    @Test(arguments: ["custom", "plain"])
    func everyStockReaderReadsABackupToTheByte(format: String) throws {
        let (_, data) = try backup(format)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: data))
        #expect(members(bytes).count > 3, "a Pagila dump is several members")
        #expect(members(bytes).last == bytes.count, "pgkeep's members tile the file")
        let fd = open(data, O_RDONLY)
        defer { close(fd) }
        var mine = Data()
        _ = try Codec.gzip.decompress(fd: fd, path: data) {
            mine.append(contentsOf: $0)
            return true
        }
        let python = "import gzip, sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())"
        let readers = [
            "gunzip -c '\(data)'", "zcat '\(data)'", "pigz -dc '\(data)'", "python3 -c '\(python)' '\(data)'",
        ]
        for reader in readers {
            let out = try TestServer.shell("\(reader) | sha256sum").stdout.prefix(64)
            #expect(out == (try SHA256Hex.of(mine)), "\(reader)")
        }
        if format == "custom" {
            // pg_restore stops at the table of contents; the rest is drained so that gunzip reads to the end.
            let list = try TestServer.shell("gunzip -c '\(data)' | { pg_restore --list; cat >/dev/null; }").stdout
            #expect(list.contains("TABLE DATA public rental"), "\(list.prefix(500))")
        } else {
            #expect(String(decoding: mine.suffix(200), as: UTF8.self).contains("PostgreSQL database dump complete"))
        }
    }

    /// pigz's one member of many blocks is the method of pgkeep's writer before libdeflate; gzip -6
    /// is `pg_dump | gzip`; the mixed file is pgkeep's members, gzip's, pigz's, then pgkeep's again.
    @Test(arguments: ["pigz", "gzip", "mixed"])
    func olderForeignAndMixedFilesRestore(kind: String) throws {
        let dir = TestServer.tempDir("gzold")
        let raw = dir + "/raw.dump"
        let file = dir + "/pagila.dump.gz"
        try TestServer.shell("pg_dump -Fc -Z0 -d \(TestServer.pagila) -f '\(raw)'")
        switch kind {
        case "pigz": try TestServer.shell("pigz -6 -c '\(raw)' > '\(file)'")
        case "gzip": try TestServer.shell("gzip -6 -c '\(raw)' > '\(file)'")
        default:
            let whole = try Data(contentsOf: URL(fileURLWithPath: raw))
            let cuts = [0, 1_500_000, 2_000_000, 2_500_000, whole.count]
            var joined = Data()
            for (i, (from, to)) in zip(cuts, cuts.dropFirst()).enumerated() {
                let part = dir + "/part\(i)"
                try whole.subdata(in: from..<to).write(to: URL(fileURLWithPath: part))
                if i == 1 || i == 2 {
                    try TestServer.shell("\(i == 1 ? "gzip" : "pigz") -6 -c '\(part)' > '\(part).gz'")
                    joined += try Data(contentsOf: URL(fileURLWithPath: part + ".gz"))
                } else {
                    let (path, _, _) = try GzipTestFile.compress(part)
                    joined += try Data(contentsOf: URL(fileURLWithPath: path))
                }
            }
            try joined.write(to: URL(fileURLWithPath: file))
            #expect(members(joined).count > 2, "the mixed file starts with pgkeep's members")
        }
        let target = TestServer.uniqueName("gz_\(kind)")
        defer { TestServer.dropDatabase(target) }
        let run = try TestServer.pgkeep(["restore", file, "-d", target, "--create"])
        #expect(run.status == 0, "\(run.stderr)")
        try expectSameAsPagila(target)
    }

    @Test(arguments: ["cut at a member boundary", "cut inside a member", "flip in a member's data", "flip in a CRC-32"])
    func damagedMembersAreRefusedByVerifyAndRestore(damage: String) throws {
        let (manifest, data) = try backup()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: data))
        let starts = members(bytes)
        try #require(starts.count > 3)
        switch damage {
        case "cut at a member boundary": bytes = bytes.prefix(starts[2])
        case "cut inside a member": bytes = bytes.prefix(starts[1] + 1000)
        case "flip in a member's data": bytes[(starts[1] + starts[2]) / 2] ^= 0x04
        default: bytes[starts[2] - 8] ^= 0x01
        }
        try bytes.write(to: URL(fileURLWithPath: data))
        let copy = TestServer.tempDir("gzdamaged") + "/copy.dump.gz"
        try bytes.write(to: URL(fileURLWithPath: copy))
        let verify = try TestServer.pgkeep(["verify", manifest])
        #expect(verify.status != 0, "verify: \(verify.stderr)")
        let target = TestServer.uniqueName("gz_damage")
        try TestServer.createDatabase(target)
        defer { TestServer.dropDatabase(target) }
        _ = try TestServer.psql(target, "CREATE TABLE keep_me AS SELECT 42 AS answer")
        let before = try TestServer.schema(target)
        // With the manifest (sha256) and without it (a copy elsewhere: a whole read of the members).
        for input in [manifest, copy] {
            let run = try TestServer.pgkeep(["restore", input, "-d", target, "--clean", "--yes"])
            #expect(run.status != 0, "\(damage) \(input)")
            #expect(run.stderr.contains("not touched"), "\(run.stderr)")
            if input == copy {
                let said = run.stderr.contains("truncated") || run.stderr.contains("corrupt")
                #expect(said, "the gzip error reaches the user: \(run.stderr)")
            }
        }
        #expect(try TestServer.schema(target) == before)
        #expect(try TestServer.psql(target, "SELECT answer FROM keep_me") == "42")
    }
}

/// pgkeep's gzip writer on a file, in this process.
enum GzipTestFile {
    static func compress(_ input: String) throws -> (path: String, result: ParallelGzipWriter.Result, sha: String) {
        let output = input + ".gz"
        let inFD = open(input, O_RDONLY)
        defer { close(inFD) }
        let outFD = try FileSystem.createPrivateFile(output)
        defer { close(outFD) }
        let sink = HashingSink(fd: outFD, path: output)
        let result = try ParallelGzipWriter(level: 6, workers: 2).compress(from: inFD, what: input, to: sink)
        return (output, result, sink.finalizeHex())
    }
}

enum SHA256Hex {
    static func of(_ data: Data) throws -> String {
        let path = TestServer.tempDir("sha") + "/d"
        try data.write(to: URL(fileURLWithPath: path))
        return try TestServer.sha256sum(path)
    }
}
