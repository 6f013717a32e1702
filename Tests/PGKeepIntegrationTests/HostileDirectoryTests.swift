import Foundation
import Testing

@testable import PGKeep

/// A backup directory holding what pgkeep did not make: a folder and files linked to elsewhere,
/// FIFOs, an unreadable file, a file named like a backup without a manifest. `list`, `prune` and
/// `status` neither follow nor delete them (a FIFO opened for reading would hang them).
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct HostileDirectoryTests {
    @Test func listPruneAndStatusNeitherFollowNorDelete() throws {
        let dir = TestServer.tempDir("hostile")
        let outside = TestServer.tempDir("outside")
        #expect(
            try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", outside, "--schema-only"]).status == 0)
        #expect(try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"]).status == 0)
        let (_, real) = try #require(try KillPointTests.backups(dir).first)
        let folder = dir + "/" + TestServer.pagila
        let (outsideManifest, outsideReal) = try #require(try KillPointTests.backups(outside).first)
        let fm = FileManager.default
        // A whole database folder that is a link to another directory's backups.
        try fm.createSymbolicLink(atPath: dir + "/linked", withDestinationPath: outside + "/" + TestServer.pagila)
        // A backup and its manifest as links to files elsewhere.
        let alias = BackupName(
            database: TestServer.pagila, time: Date(timeIntervalSince1970: 1_600_000_000), format: .custom,
            codec: .gzip)
        try fm.createSymbolicLink(
            atPath: folder + "/" + alias.fileName,
            withDestinationPath: outside + "/" + TestServer.pagila + "/" + outsideReal.file)
        try fm.createSymbolicLink(atPath: folder + "/" + alias.manifestName, withDestinationPath: outsideManifest)
        // FIFOs named like a backup and like a manifest.
        let fifo = BackupName(
            database: TestServer.pagila, time: Date(timeIntervalSince1970: 1_500_000_000), format: .custom,
            codec: .gzip)
        #expect(mkfifo(folder + "/" + fifo.fileName, 0o600) == 0)
        #expect(mkfifo(folder + "/" + fifo.manifestName, 0o600) == 0)
        // An unreadable manifest (mode 000) and a file named like a backup with no manifest.
        let locked = BackupName(
            database: TestServer.pagila, time: Date(timeIntervalSince1970: 1_400_000_000), format: .plain,
            codec: .gzip)
        _ = fm.createFile(atPath: folder + "/" + locked.fileName, contents: Data("x".utf8))
        _ = fm.createFile(
            atPath: folder + "/" + locked.manifestName, contents: Data("{".utf8), attributes: [.posixPermissions: 0])
        let orphan = BackupName(
            database: TestServer.pagila, time: Date(timeIntervalSince1970: 1_300_000_000), format: .custom,
            codec: .gzip)
        _ = fm.createFile(atPath: folder + "/" + orphan.fileName, contents: Data("not ours".utf8))
        let before = TestServer.listing(dir)
        let outsideBefore = TestServer.listing(outside)

        let list = try TestServer.pgkeep(["list", "--dir", dir, "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(
            list.stdout.components(separatedBy: "\"path\"").count - 1 == 1,
            "only the real backup counts: \(list.stdout)")
        let keepOne = ["--keep-last", "1", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0"]
        let prune = try TestServer.pgkeep(["prune", "--dir", dir] + keepOne)
        #expect(prune.status == 0, "\(prune.stderr)")
        let status = try TestServer.pgkeep(["status", "--dir", dir, "--max-age", "1h"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(TestServer.listing(dir) == before, "nothing was deleted")
        #expect(TestServer.listing(outside) == outsideBefore, "nothing outside was touched")
        #expect(
            try TestServer.sha256sum(outside + "/" + TestServer.pagila + "/" + outsideReal.file) == outsideReal.sha256)
        #expect(try TestServer.sha256sum(folder + "/" + real.file) == real.sha256, "the real backup is whole")
    }
}
