import Foundation
import Testing

@testable import PGKeep

/// How a restored database's fingerprint is compared with the backup's, and how it is kept.
@Suite struct FingerprintLogicTests {
    static let backup = Manifest.Fingerprint(
        tables: ["public.a": .init(rows: 3, checksum: "10"), "public.b": .init(rows: 2, checksum: "7")],
        sequences: ["public.a_id_seq": "3", "public.never": nil], largeObjects: 1)

    @Test func identicalDataHasNoDifferences() {
        #expect(Fingerprints.differences(expected: Self.backup, actual: Self.backup).isEmpty)
    }

    /// Sequences are not transactional: another value is no difference, a missing sequence is.
    @Test func eachKindOfDifferenceIsNamed() {
        var restored = Self.backup
        restored.tables["public.a"]?.checksum = "11"
        restored.tables["public.b"]?.rows = 1
        restored.tables["public.extra"] = .init(rows: 0, checksum: "0")
        restored.sequences["public.a_id_seq"] = "2"
        restored.sequences["public.never"] = nil
        restored.largeObjects = 0
        let found = Fingerprints.differences(expected: Self.backup, actual: restored)
        #expect(
            found == [
                "public.a: the same 3 rows in number, but their contents differ (checksum)",
                "public.b: 1 rows, the backup had 2",
                "public.extra: not in the backup",
                "sequence public.never: missing",
                "large objects: 0, the backup had 1",
            ], "\(found)")
    }

    /// A partial restore compares its own tables only: nothing else, no sequences, no large objects.
    @Test func aPartialRestoreComparesItsTablesOnly() {
        let restored = Manifest.Fingerprint(
            tables: ["public.b": .init(rows: 2, checksum: "7")], sequences: [:], largeObjects: 0)
        #expect(Fingerprints.differences(expected: Self.backup, actual: restored, scope: ["public.b"]).isEmpty)
        let missing = Manifest.Fingerprint(tables: [:], sequences: [:], largeObjects: 0)
        #expect(
            Fingerprints.differences(expected: Self.backup, actual: missing, scope: ["public.b"])
                == ["public.b: missing (the backup had 2 rows)"])
    }

    /// The manifest's row counts are `count(*)`'s: a parent with inheritance children counts theirs
    /// (grandchildren too), though its fingerprint entry is its own rows only.
    @Test func rowCountsIncludeInheritanceChildren() {
        let f = Manifest.Fingerprint(
            tables: [
                "app.parent": .init(rows: 1, checksum: "1"), "app.child": .init(rows: 2, checksum: "2"),
                "app.grandchild": .init(rows: 4, checksum: "4"), "app.alone": .init(rows: 8, checksum: "8"),
            ], sequences: [:], largeObjects: 0)
        let counts = Fingerprints.rowCounts(
            f, inherits: [("app.parent", "app.child"), ("app.child", "app.grandchild"), ("app.p", "app.alone")])
        #expect(counts == ["app.parent": 7, "app.child": 6, "app.grandchild": 4, "app.alone": 8])
    }

    @Test func itRoundTripsThroughTheManifest() throws {
        let data = try JSONEncoder().encode(Self.backup)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"large_objects\":1") && text.contains("\"public.never\":null"), "\(text)")
        #expect(try JSONDecoder().decode(Manifest.Fingerprint.self, from: data) == Self.backup)
    }
}
