import Foundation
import Testing

@testable import PGKeep

/// A whole restore into an existing database compares the target's tables with the backup's,
/// not with themselves: a target that holds only other tables takes the restore, one that
/// holds some of the backup's tables is refused naming exactly those.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .serialized)
struct TargetTablesTests {
    static let backups: (custom: String, plain: String) = {
        let db = TestServer.uniqueName("tt_src")
        let dir = TestServer.tempDir("tt")
        do {
            try TestServer.createDatabase(db)
            _ = try TestServer.psql(
                db, "CREATE TABLE big (id int PRIMARY KEY); INSERT INTO big SELECT generate_series(1, 10)")
            for format in ["custom", "plain"] {
                let r = try TestServer.pgkeep(["backup", "--dir", dir, "-d", db, "--format", format, "--row-counts"])
                if r.status != 0 { Issue.record("backup: \(r.stderr)") }
            }
        } catch {
            Issue.record("cannot make the backups: \(error)")
        }
        let paths = (try? TestServer.manifests(dir).map(\.path)) ?? []
        return (paths.first { $0.contains(".dump") } ?? "", paths.first { $0.contains(".sql") } ?? "")
    }()

    func target(_ tables: String) throws -> String {
        let name = TestServer.uniqueName("tt_target")
        try TestServer.createDatabase(name)
        _ = try TestServer.psql(name, tables)
        return name
    }

    @Test(arguments: ["custom", "plain"])
    func disjointTablesTakeTheRestore(format: String) throws {
        let db = try target("CREATE TABLE keepme (x int); INSERT INTO keepme VALUES (1), (2)")
        defer { TestServer.dropDatabase(db) }
        let path = format == "custom" ? Self.backups.custom : Self.backups.plain
        let r = try TestServer.pgkeep(["restore", path, "-d", db])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try TestServer.rowCounts(db) == ["public.keepme": 2, "public.big": 10])
    }

    @Test(arguments: ["custom", "plain"])
    func overlappingTablesAreRefusedNamingOnlyThose(format: String) throws {
        let db = try target("CREATE TABLE keepme (x int); CREATE TABLE big (id int)")
        defer { TestServer.dropDatabase(db) }
        let path = format == "custom" ? Self.backups.custom : Self.backups.plain
        let r = try TestServer.pgkeep(["restore", path, "-d", db])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("already has 1 of the tables this restore writes (public.big)"), "\(r.stderr)")
        #expect(!r.stderr.contains("keepme"), "\(r.stderr)")
        // A SQL script has no DROPs for --clean; an archive's --clean replaces `big` only.
        guard format == "custom" else { return }
        let clean = try TestServer.pgkeep(["restore", path, "-d", db, "--clean", "--yes"])
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect(try TestServer.rowCounts(db) == ["public.keepme": 0, "public.big": 10])
    }

    /// A data-only archive names its tables only in TABLE DATA entries, and a table may be called
    /// by a keyword the server quotes ("order"): both are conflicts all the same.
    @Test func dataOnlyArchivesAndKeywordNamesConflictToo() throws {
        let db = TestServer.uniqueName("tt_kw")
        try TestServer.createDatabase(db)
        defer { TestServer.dropDatabase(db) }
        _ = try TestServer.psql(
            db, "CREATE TABLE \"order\" (id int); INSERT INTO \"order\" SELECT generate_series(1, 10)")
        let dir = TestServer.tempDir("tt-kw")
        for args in [["--data-only"], []] {
            let b = try TestServer.pgkeep(["backup", "--dir", dir, "-d", db] + args)
            try #require(b.status == 0, "\(b.stderr)")
        }
        for (path, _) in try TestServer.manifests(dir) {
            let r = try TestServer.pgkeep(["restore", path, "-d", db])
            #expect(r.status == 64, "\(path): \(r.stderr)")
            #expect(r.stderr.contains("(public.\"order\")"), "\(r.stderr)")
        }
        #expect(try TestServer.rowCounts(db) == ["public.\"order\"": 10], "nothing was appended")
    }
}
