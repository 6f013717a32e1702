import Foundation
import Testing

@testable import PGKeep

@Suite struct BackupNameTests {
    let time = Date(timeIntervalSince1970: 1_775_095_200)  // 2026-04-02T02:00:00Z

    @Test func plainNamesFollowTheDocumentedScheme() {
        let name = BackupName(database: "mydb", time: time, format: .custom, codec: .gzip)
        #expect(name.folder == "mydb")
        #expect(name.fileName == "mydb_2026-04-02T020000Z.dump.gz")
        #expect(name.manifestName == "mydb_2026-04-02T020000Z.dump.gz.manifest.json")
        #expect(
            BackupName(database: "mydb", time: time, sequence: 2, format: .plain, codec: .gzip).fileName
                == "mydb_2026-04-02T020000Z_002.sql.gz")
        #expect(
            BackupName(database: "mydb", time: time, format: .directory, codec: .gzip).fileName
                == "mydb_2026-04-02T020000Z.dir")
        #expect(
            BackupName(database: "mydb", time: time, format: .custom, codec: nil).fileName
                == "mydb_2026-04-02T020000Z.dump")
        #expect(
            BackupName(database: "mydb", time: time, format: .plain, codec: .zstd, encrypted: true).fileName
                == "mydb_2026-04-02T020000Z.sql.zst.age")
        #expect(
            BackupName(database: BackupName.globalsDatabase, time: time, format: .globals, codec: .zstd).fileName
                == "@globals_2026-04-02T020000Z.globals.sql.zst")
    }

    @Test(arguments: [
        ("my db", "my%20db"), ("a/b", "a%2Fb"), ("it's \"q\"", "it%27s%20%22q%22"), ("café", "caf%C3%A9"),
        (".hidden", "%2Ehidden"), ("..", "%2E."), ("@globals", "%40globals"), ("a%2Fb", "a%252Fb"),
        ("Ünïcødé_名前", "%C3%9Cn%C3%AFc%C3%B8d%C3%A9_%E5%90%8D%E5%89%8D"),
        ("under_score-dash.dot", "under_score-dash.dot"),
    ])
    func awkwardDatabaseNamesGiveSafeReversibleFolders(database: String, folder: String) {
        #expect(BackupName.folderName(for: database) == folder)
        #expect(BackupName.database(forFolder: folder) == database)
        #expect(!folder.contains("/"))
        let name = BackupName(database: database, time: time, format: .custom, codec: .gzip)
        #expect(BackupName.parse(fileName: name.fileName) == name)
    }

    @Test func distinctDatabasesNeverShareAFolder() {
        let names = ["a b", "a%20b", "a_b", "A b", "a/b", "a%2Fb", "@globals"]
        let folders = Set(names.map(BackupName.folderName(for:)))
        #expect(folders.count == names.count)
        #expect(!folders.contains(BackupName.globalsDatabase))
    }

    @Test func globalsLiveInTheirOwnFolder() {
        let name = BackupName(database: BackupName.globalsDatabase, time: time, format: .globals, codec: .gzip)
        #expect(name.folder == "@globals")
        #expect(name.fileName == "@globals_2026-04-02T020000Z.globals.sql.gz")
        #expect(BackupName.parse(fileName: name.fileName) == name)
    }

    @Test func parsingRoundTripsEveryFormat() {
        for format in BackupFormat.allCases where format != .globals {
            for codec in [nil] + Codec.allCases where format != .directory || codec == .gzip {
                for seq in [0, 1, 12] {
                    for encrypted in [false, true] where !(format == .directory && encrypted) {
                        let name = BackupName(
                            database: "shop_db", time: time, sequence: seq, format: format, codec: codec,
                            encrypted: encrypted)
                        #expect(BackupName.parse(fileName: name.fileName) == name, "\(name.fileName)")
                        #expect(name.fileName.hasSuffix(".age") == encrypted)
                    }
                }
            }
        }
    }

    @Test(arguments: [
        "notes.txt", "mydb.dump.gz", "mydb_2026-04-02T020000Z.dir.age", "mydb_2026-04-02T020000Z.age",
        "mydb_2026-13-02T020000Z.dump.gz", "mydb_2026-02-30T020000Z.dump.gz",
        "mydb_2026-04-02T250000Z.dump.gz", "mydb_2026-04-02T020000Z.dump.gz.manifest.json",
        ".pgkeep-tmp-123-abc-mydb_2026-04-02T020000Z.dump.gz", "mydb_2026-04-02T020000Z-0.dump.gz",
        "mydb_2026-04-02T020000Z_000.dump.gz", "mydb_2026-04-02T020000Z_01.dump.gz",
        "mydb_2026-04-02T020000Z_0001.dump.gz",
        "mydb_2026-04-02T020000Z.tar", "bad%ZZ_2026-04-02T020000Z.dump.gz", "%41_2026-04-02T020000Z.dump.gz",
        "x_2026-04-02T020000Z.globals.sql.gz",
    ])
    func foreignFileNamesAreNotBackups(_ fileName: String) {
        #expect(BackupName.parse(fileName: fileName) == nil)
    }

    @Test func timestampsAreUTCToTheSecond() {
        let t = Date(timeIntervalSince1970: 1_775_095_200.987)
        #expect(BackupName.timestampString(t) == "2026-04-02T020000Z")
        #expect(
            BackupName.isoString(BackupName(database: "d", time: t, format: .custom, codec: .gzip).time)
                == "2026-04-02T02:00:00Z")
    }

    /// Backups of one second sort by time in plain byte order (what `ls | tail -1` relies on):
    /// the first, then _001, _002, ... _010, ... _999; pgkeep 0.2's `-N` names are still read.
    @Test func namesOfOneSecondSortByTimeInByteOrder() throws {
        let time = Date(timeIntervalSince1970: 1_775_095_200)
        let names = [0, 1, 2, 9, 10, 11, 99, 100, 999].map {
            BackupName(database: "name", time: time, sequence: $0, format: .custom, codec: .gzip).fileName
        }
        #expect(names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } == names)
        #expect(names.map { BackupName.parse(fileName: $0)?.sequence } == [0, 1, 2, 9, 10, 11, 99, 100, 999])
        let old = try #require(BackupName.parse(fileName: "name_2026-04-02T020000Z-3.dump.gz"))
        #expect(old.sequence == 3 && old.database == "name")
        #expect(old.fileName == "name_2026-04-02T020000Z-3.dump.gz", "an old name still names its file")
    }

    /// A prune that deleted the first backup of a second frees its name; the next backup of that
    /// second must still sort after the others, so it takes the next number, not the freed one.
    @Test func aFreedLowerNameIsNeverReused() throws {
        let folder = NSTemporaryDirectory() + "pgkeep-seq-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let time = Date(timeIntervalSince1970: 1_775_095_200.4)
        let kept = BackupName(database: "db", time: time, sequence: 1, format: .custom, codec: .gzip)
        for file in [kept.fileName, kept.manifestName, "db_2026-04-02T020000Z-3.sql.gz"] {
            _ = FileManager.default.createFile(atPath: folder + "/" + file, contents: Data())
        }
        let next = BackupName(database: "db", time: time, format: .custom, codec: .gzip)
        #expect(BackupCommit.nextSequence(after: next, in: folder) == 4, "after _001 and the old -3")
        let otherSecond = BackupName(database: "db", time: time.addingTimeInterval(1), format: .custom, codec: .gzip)
        #expect(BackupCommit.nextSequence(after: otherSecond, in: folder) == 0)
    }
}
