import Foundation
import Testing

@testable import PGKeep

/// Pagila backed up by pgkeep in each format and restored with the stock tools alone must come
/// back with the same schema and the same row counts.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct RoundTripTests {
    @Test(arguments: [
        ("custom", "gzip"), ("plain", "gzip"), ("directory", "gzip"), ("custom", "zstd"), ("plain", "zstd"),
    ])
    func pagilaRoundTripsThroughStockTools(format: String, codec: String) throws {
        let dir = TestServer.tempDir("rt")
        var args = ["backup", "--dbname", TestServer.pagila, "--dir", dir, "--format", format, "--label", "round trip"]
        if format == "directory" { args += ["--jobs", "2"] }
        if codec == "zstd" { args += ["--compress", "zstd"] }
        let run = try TestServer.pgkeep(args)
        #expect(run.status == 0, "\(run.stderr)")

        let manifests = try TestServer.manifests(dir)
        try #require(manifests.count == 1)
        let (manifestPath, manifest) = manifests[0]
        let data = (manifestPath as NSString).deletingLastPathComponent + "/" + manifest.file
        #expect(manifest.database == TestServer.pagila)
        #expect(manifest.format.rawValue == format)
        #expect(manifest.label == "round trip")
        #expect(manifest.serverVersionNum >= 150000)
        #expect(manifest.verification.sha256Reread)
        #expect(manifest.compression.algorithm == codec)
        if format != "directory" { #expect(manifest.file.hasSuffix(codec == "zstd" ? ".zst" : ".gz")) }
        #expect(run.stderr.contains(data), "the summary line names the file")

        // The manifest's checksum is what sha256sum says about the file (or, for a directory,
        // what sha256sum says about each file).
        if format == "directory" {
            for f in manifest.files ?? [] {
                #expect(try TestServer.sha256sum(data + "/" + f.path) == f.sha256)
            }
            #expect(Verifier.directoryDigest(manifest.files ?? []) == manifest.sha256)
            #expect(manifest.verification.pgRestoreList == true)
        } else {
            #expect(try TestServer.sha256sum(data) == manifest.sha256)
            try TestServer.shell(codec == "zstd" ? "zstd -q -t '\(data)'" : "gzip -t '\(data)'")
        }
        let decompress = codec == "zstd" ? "zstd -q -dc" : "gunzip -c"

        let target = TestServer.uniqueName("rt_\(format)")
        try TestServer.createDatabase(target)
        defer { TestServer.dropDatabase(target) }
        let bin = TestServer.pgBin
        switch format {
        case "custom":
            try TestServer.shell("\(decompress) '\(data)' | \(bin)/pg_restore --exit-on-error -d \(target)")
        case "plain":
            try TestServer.shell(
                "\(decompress) '\(data)' | \(bin)/psql -X -q -v ON_ERROR_STOP=1 -d \(target) >/dev/null")
        default:
            try TestServer.shell("\(bin)/pg_restore --exit-on-error -j 2 -d \(target) '\(data)'")
        }
        #expect(try TestServer.schema(target) == TestServer.schema(TestServer.pagila))
        let counts = try TestServer.rowCounts(target)
        #expect(counts == (try TestServer.rowCounts(TestServer.pagila)))
        #expect(counts["public.rental"] == 16044)
    }

    @Test func customArchiveRestoresOneTableStreamedThroughGunzip() throws {
        let dir = TestServer.tempDir("one")
        let run = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        let backups = json?["backups"] as? [[String: Any]]
        let path = try #require(backups?.first?["path"] as? String)
        #expect(backups?.first?["sha256"] as? String == (try TestServer.sha256sum(path)))

        let target = TestServer.uniqueName("one_table")
        try TestServer.createDatabase(target)
        defer { TestServer.dropDatabase(target) }
        // film_actor has no sequence, so it restores on its own.
        // pg_restore stops reading once it has the table, so gunzip's SIGPIPE is expected: the
        // status that matters is pg_restore's.
        try TestServer.shell(
            "\(TestServer.pgBin)/pg_restore --exit-on-error -t film_actor -d \(target) < <(gunzip -c '\(path)')")
        #expect(try TestServer.psql(target, "SELECT count(*) FROM film_actor") == "5462")
    }

    /// A backup directory named by one letter, relative to the working directory (Foundation's
    /// path code trapped on it): backed up, listed, restored.
    @Test func aOneLetterRelativeDirectory() throws {
        let cwd = TestServer.tempDir("oneletter")
        let pk = "'\(TestServer.binary)'"
        let r = try TestServer.run(
            "/bin/bash",
            [
                "-c",
                "cd '\(cwd)' && \(pk) backup -d \(TestServer.pagila) --dir b --schema-only && \(pk) list --dir b/ "
                    + "&& \(pk) verify --all --dir b",
            ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(TestServer.pagila), "\(r.stdout)")
        #expect(try TestServer.manifests(cwd + "/b").count == 1)
    }

    @Test func filtersPassThroughToPgDump() throws {
        let dir = TestServer.tempDir("filter")
        let run = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir, "--format", "plain",
            "--table", "public.actor", "--no-owner", "--no-privileges",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let (path, manifest) = try #require(try TestServer.manifests(dir).first)
        #expect(manifest.pgDumpOptions.contains("--table=public.actor"))
        let sql = try TestServer.shell("gunzip -c '\((path as NSString).deletingLastPathComponent)/\(manifest.file)'")
            .stdout
        #expect(sql.contains("CREATE TABLE public.actor"))
        #expect(!sql.contains("CREATE TABLE public.film "))
        #expect(!sql.contains("OWNER TO"))
    }

    @Test func allDatabasesAndGlobals() throws {
        let dir = TestServer.tempDir("all")
        let run = try TestServer.pgkeep(["backup", "--all", "--dir", dir, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let manifests = try TestServer.manifests(dir)
        let databases = Set(manifests.map(\.manifest.database))
        #expect(databases.contains(TestServer.pagila))
        #expect(databases.contains("postgres"))
        #expect(!databases.contains("template1"))
        let globals = try #require(manifests.first { $0.manifest.format == .globals })
        #expect(globals.path.contains("/@globals/"))
        let sql = try TestServer.shell(
            "gunzip -c '\((globals.path as NSString).deletingLastPathComponent)/\(globals.manifest.file)'"
        ).stdout
        #expect(sql.contains("CREATE ROLE postgres"))
        #expect(globals.manifest.verification.sqlTrailer == true)
    }

    @Test func backupsInTheSameSecondNeverOverwrite() throws {
        // Occupy the names the next backup would take (data files without manifests): pgkeep must
        // pick the next free name and leave these files alone.
        let dir = TestServer.tempDir("same")
        let folder = dir + "/" + TestServer.pagila
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let now = Date()
        var decoys: [String] = []
        for s in 0..<20 {
            let name = BackupName(
                database: TestServer.pagila, time: now.addingTimeInterval(Double(s)), format: .custom, codec: .gzip)
            let p = folder + "/" + name.fileName
            _ = FileManager.default.createFile(atPath: p, contents: Data("decoy \(s)".utf8))
            decoys.append(p)
        }
        let run = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"])
        #expect(run.status == 0, "\(run.stderr)")
        let (_, manifest) = try #require(try TestServer.manifests(dir).first)
        #expect(manifest.file.contains("Z_001.dump.gz"))
        for (s, p) in decoys.enumerated() {
            #expect(FileManager.default.contents(atPath: p) == Data("decoy \(s)".utf8))
        }
    }

    /// Another format in the same second takes the name's second too: the newest backup is never
    /// ambiguous (restore --latest, the retention order).
    @Test func anotherFormatInTheSameSecondGetsTheNextSequence() throws {
        let dir = TestServer.tempDir("sameother")
        let folder = dir + "/" + TestServer.pagila
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let now = Date()
        for s in 0..<20 {
            let name = BackupName(
                database: TestServer.pagila, time: now.addingTimeInterval(Double(s)), format: .plain, codec: .gzip)
            _ = FileManager.default.createFile(atPath: folder + "/" + name.fileName, contents: Data("decoy".utf8))
        }
        let run = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"])
        #expect(run.status == 0, "\(run.stderr)")
        let (_, manifest) = try #require(try TestServer.manifests(dir).first)
        #expect(manifest.file.hasSuffix("Z_001.dump.gz"), "\(manifest.file)")
    }

    @Test func awkwardDatabaseNames() throws {
        let name = "it's a/b \"café\" " + String(UInt16.random(in: 0...9999))
        let escaped = name.replacingOccurrences(of: "\"", with: "\"\"")
        _ = try TestServer.psql("postgres", "CREATE DATABASE \"\(escaped)\"")
        defer { _ = try? TestServer.psql("postgres", "DROP DATABASE IF EXISTS \"\(escaped)\"") }
        _ = try TestServer.psql(name, "CREATE TABLE t AS SELECT 1 AS x")
        let dir = TestServer.tempDir("names")
        let run = try TestServer.pgkeep([
            "backup", "-d", "dbname='\(name.replacingOccurrences(of: "'", with: "\\'"))'", "--dir", dir,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let (path, manifest) = try #require(try TestServer.manifests(dir).first)
        #expect(manifest.database == name)
        let folder = ((path as NSString).deletingLastPathComponent as NSString).lastPathComponent
        #expect(folder == BackupName.folderName(for: name))
        #expect(!folder.contains("/") && !folder.contains("'") && !folder.contains(" "))
    }

    @Test func commandTreeHelpAndVersion() throws {
        let v = try TestServer.pgkeep(["--version"])
        #expect(v.status == 0)
        #expect(v.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == PGKeepVersion.string)
        let h = try TestServer.pgkeep(["help", "backup"])
        #expect(h.status == 0)
        #expect(h.stdout.contains("--compress-level"))
        #expect(h.stdout.contains("-h, --host"))
        let bad = try TestServer.pgkeep(["backup", "--dir", "/tmp/x", "--jobs", "2"])
        #expect(bad.status == ExitCodes.usage)
        #expect(bad.stderr.contains("--jobs needs --format directory"))
    }
}
