import Foundation
import Testing

@testable import PGKeep

/// What a scan counts, cleans and leaves alone, on a directory built by hand.
@Suite struct CatalogScanTests {
    func make(_ files: [String: String], links: [String: String] = [:]) throws -> String {
        let dir = NSTemporaryDirectory() + "pgkeep-scan-\(UUID().uuidString)"
        for (path, text) in files {
            let full = dir + "/" + path
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        }
        for (link, target) in links {
            try FileManager.default.createSymbolicLink(atPath: dir + "/" + link, withDestinationPath: target)
        }
        return dir
    }

    func manifest(_ file: String) -> String {
        "{\"database\": \"shop\", \"file\": \"\(file)\", \"format\": \"custom\", \"size\": 4, \"pinned\": false}"
    }

    @Test func backupsLeftoversOrphansAndForeignFiles() throws {
        let a = "shop_2026-04-01T020000Z.dump.gz"
        let b = "shop_2026-04-02T020000Z.dump.gz"
        let committing = "shop_2026-04-03T020000Z.dump.gz"
        let copy = "shop_2025-01-01T020000Z.dump.gz"
        let dir = try make(
            [
                "shop/" + a: "data", "shop/" + a + ".manifest.json": manifest(a),
                "shop/" + b: "data", "shop/" + b + ".manifest.json": manifest(b),
                // A commit interrupted between its renames: data in place, the manifest still temporary.
                "shop/" + committing: "data",
                "shop/.pgkeep-tmp-42-beef-" + committing + ".manifest.json": manifest(committing),
                // Someone's copy with a pgkeep-like name, and plain foreign files.
                "shop/" + copy: "mine", "shop/notes.txt": "x", "notes.txt": "x", "pg_back/x.dump": "x",
            ], links: ["shop/linked.dump.gz": "/etc/hostname", "other": "/tmp"])
        let scan = try CatalogScan.scan(dir)
        #expect(scan.backups.map { ($0.dataPath as NSString).lastPathComponent } == [b, a])
        #expect(scan.leftovers == [dir + "/shop/" + committing])
        #expect(scan.orphans == [dir + "/shop/" + copy])
        #expect(scan.temporary == [dir + "/shop/.pgkeep-tmp-42-beef-" + committing + ".manifest.json"])
        #expect(scan.broken.isEmpty)
    }

    @Test func aManifestWithoutItsDataIsBrokenNotABackup() throws {
        let a = "shop_2026-04-01T020000Z.dump.gz"
        let dir = try make(["shop/" + a + ".manifest.json": manifest(a)])
        let scan = try CatalogScan.scan(dir)
        #expect(scan.backups.isEmpty)
        #expect(scan.broken == [dir + "/shop/" + a + ".manifest.json"])
    }
}
