import Foundation
import Testing

@testable import PGKeep

/// A local restore of a pgkeep backup reads the file once: hashed as it is restored, checked
/// against the manifest at the end, committed only then. Counted with strace (the bytes read from
/// the data file), and attacked with a manifest whose sha256 or size no decompressor can catch
/// (the file itself intact): found at the end, the restore commits nothing. Killed at seeded
/// instants: `AtomicRestoreTests` (its restores are these one-pass ones).
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct OnePassRestoreTests {
    static let cases: [(format: String, args: [String])] = [
        ("custom", []), ("plain", []), ("custom", ["--jobs", "2"]), ("custom", ["--compress", "zstd"]),
    ]

    /// A backup of the two-table database (600,000 rows, tens of MB compressed) in `format`.
    static func backup(_ format: String, _ args: [String]) throws -> (data: String, manifest: String) {
        let dir = TestServer.tempDir("onepass")
        let compress = args.contains("--compress") ? ["--compress", "zstd"] : []
        let b = try TestServer.pgkeep(
            ["backup", "-d", AtomicRestoreTests.source, "--dir", dir, "--format", format] + compress)
        #expect(b.status == 0, "\(b.stderr)")
        let (path, m) = try #require(try TestServer.manifests(dir).first)
        return ((path as NSString).deletingLastPathComponent + "/" + m.file, path)
    }

    static func restoreArgs(_ args: [String]) -> [String] { args.contains("--jobs") ? args : [] }

    @Test(arguments: cases)
    func aRestoreReadsTheBackupOnce(format: String, args: [String]) throws {
        let (data, manifest) = try Self.backup(format, args)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: data)[.size] as? Int)
        let target = TestServer.uniqueName("onepass")
        defer { TestServer.dropDatabase(target) }
        // A file per thread (-ff): no call split into "unfinished" and "resumed" lines.
        let traces = TestServer.tempDir("onepasstrace")
        let run = try TestServer.run(
            "/usr/bin/strace",
            ["-ff", "-qq", "-y", "-s", "0", "-e", "trace=read,pread64", "-o", traces + "/t", "--", TestServer.binary]
                + ["restore", manifest, "-d", target, "--create"] + Self.restoreArgs(args))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("reading \(data) once"), "\(run.stderr)")
        // Every read of the data file, by pgkeep (its children read pipes).
        let pattern = try NSRegularExpression(
            pattern: #"read64\(\d+<([^>]*)>.*\) = (\d+)$|read\(\d+<([^>]*)>.*\) = (\d+)$"#)
        var read = 0
        let lines = try FileManager.default.contentsOfDirectory(atPath: traces).flatMap {
            try String(contentsOfFile: traces + "/" + $0, encoding: .utf8).split(separator: "\n").map(String.init)
        }
        for line in lines {
            let range = NSRange(line.startIndex..., in: line)
            guard let m = pattern.firstMatch(in: line, range: range) else { continue }
            let (p, n) = m.range(at: 1).location != NSNotFound ? (1, 2) : (3, 4)
            guard let path = Range(m.range(at: p), in: line), line[path] == data,
                let count = Range(m.range(at: n), in: line).flatMap({ Int(line[$0]) })
            else { continue }
            read += count
        }
        // Once whole, plus what detecting its kind and listing its contents peek at (a few MiB).
        #expect(read >= size && read < size + 4 << 20, "\(read) bytes read of a \(size)-byte backup")
        #expect(try TestServer.rowCounts(target)["public.a"] == 300_000)
    }

    /// The manifest says another sha256 (or another size) than the intact file has: nothing but
    /// the end of the read can tell, and the restore is refused there, its transaction rolled back
    /// (with --jobs: before pg_restore starts), the target as it was, a database it created gone.
    @Test(arguments: cases)
    func aMismatchFoundAtTheEndCommitsNothing(format: String, args: [String]) throws {
        let (_, manifest) = try Self.backup(format, args)
        let m = try Manifest.load(path: manifest)
        let target = TestServer.uniqueName("onepassbad")
        try TestServer.createDatabase(target)
        defer { TestServer.dropDatabase(target) }
        // Empty: a SQL script's restore would count any table there as a conflict.
        let before = try TestServer.schema(target)
        for change in ["sha256", "size"] {
            var wrong = m
            if change == "sha256" {
                wrong.sha256 = String(m.sha256.reversed())
            } else {
                wrong.size += 1
            }
            try wrong.encoded().write(to: URL(fileURLWithPath: manifest))
            let run = try TestServer.pgkeep(["restore", manifest, "-d", target] + Self.restoreArgs(args))
            #expect(run.status != 0, "\(change): \(run.stderr)")
            #expect(run.stderr.contains("does not match its manifest"), "\(change): \(run.stderr)")
            #expect(try TestServer.schema(target) == before, "\(change): the target is as it was")
            let created = TestServer.uniqueName("onepasscreate")
            let c = try TestServer.pgkeep(["restore", manifest, "-d", created, "--create"] + Self.restoreArgs(args))
            #expect(c.status != 0 && c.stderr.contains("does not match its manifest"), "\(c.stderr)")
            #expect(
                try TestServer.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(created)'") == "0",
                "the database it created is gone")
        }
        try m.encoded().write(to: URL(fileURLWithPath: manifest))
        #expect(try TestServer.pgkeep(["verify", manifest]).status == 0, "the manifest is whole again")
    }
}
