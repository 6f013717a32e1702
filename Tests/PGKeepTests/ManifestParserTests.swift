import Foundation
import Testing

@testable import PGKeep

/// The fast manifest reader that list, prune and status use never disagrees with JSONDecoder: it
/// reads what pgkeep writes, and anything it accepts JSONDecoder accepts with the same values.
struct ManifestParserTests {
    static func decoded(_ text: String) -> ManifestSummary? {
        try? JSONDecoder().decode(ManifestSummary.self, from: Data(text.utf8))
    }

    static func fast(_ text: String) -> ManifestSummary? {
        Data(text.utf8).withUnsafeBytes { ManifestSummaryParser.parse($0) }
    }

    static func same(_ a: ManifestSummary?, _ b: ManifestSummary?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return a.database == b.database && a.file == b.file && a.format == b.format && a.size == b.size
            && a.label == b.label && a.pinned == b.pinned && a.anomalies == b.anomalies
            && a.shrinkAccepted == b.shrinkAccepted && a.shrinkBaseline == b.shrinkBaseline
            && a.finishedAt == b.finishedAt && a.durationSeconds == b.durationSeconds
    }

    @Test func readsWhatPgkeepWrites() throws {
        var manifest = Manifest(
            database: "shop \"ü\" \\ x", file: "shop_2026-04-02T020000Z.dump.gz", format: .custom,
            compression: .init(algorithm: "gzip", level: 6, appliedBy: "pgkeep"), size: 123_456, sha256: "ab",
            uncompressedSize: 9, files: nil, startedAt: "2026-04-02T02:00:00Z", finishedAt: "2026-04-02T02:00:05Z",
            durationSeconds: 5.25, label: "before\tupgrade 🐘", serverVersion: "15", serverVersionNum: 150000,
            pgDumpVersion: "15", pgDumpOptions: ["--format=custom"], source: "postgresql:///shop", dockerCompose: nil,
            verification: .init(verifiedAt: "x", sha256Reread: true), rowCounts: ["public.a": 3])
        manifest.anomalies = ["table public.a lost 100 % of its rows (3 → 0)"]
        manifest.shrinkAccepted = true
        manifest.pinned = true
        let text = String(decoding: try manifest.encoded(), as: UTF8.self)
        let fast = try #require(Self.fast(text))
        #expect(Self.same(fast, Self.decoded(text)))
        #expect(fast.database == "shop \"ü\" \\ x" && fast.label == "before\tupgrade 🐘" && fast.durationSeconds == 5.25)
    }

    /// Each row says whether the fast reader takes it (true: it must, and JSONDecoder must read the
    /// same values; false: it must refuse, and the reader falls back to JSONDecoder).
    @Test(arguments: [
        (#"{"database":"d","file":"f","format":"custom","size":1,"pinned":false}"#, true),
        (#"  {"database":"d","file":"f","format":"plain","size":1e3,"pinned":true,"label":null} "#, true),
        (
            #"{"database":"d\u00e9\ud83d\ude00","file":"f","format":"custom","size":-0,"pinned":false,"x":[1,{"y":[]}]}"#,
            true
        ),
        (#"{"database":"d","file":"f","format":"custom","size":1,"pinned":false,"anomalies":[]}"#, true),
        (#"{"database":"d","file":"f","format":"custom","size":1,"pinned":false,}"#, false),
        (#"{"database":"d","file":"f","format":"custom","size":1.5,"pinned":false}"#, false),
        (#"{"database":"d","file":"f","format":"tar","size":1,"pinned":false}"#, false),
        (#"{"database":"d","file":"f","format":"custom","size":1}"#, false),
        (#"{"database":"d","file":"f","format":"custom","size":1,"pinned":"yes"}"#, false),
        (#"{"database":"d\ud800","file":"f","format":"custom","size":1,"pinned":false}"#, false),
        (#"{"database":"d","file":"f","format":"custom","size":1,"pinned":false,"x":01}"#, false),
        (#"{"database":"d","file":"f","format":"custom","size":1,"pinned":false,"x":[1,]}"#, false),
        (#"{"database":"d","file":"f","format":"custom","size":1,"pinned":false} x"#, false),
        (#"{"database":"d","file":"f","format":"custom","size":1,"pinned":false,"x":"\q"}"#, false),
        (#"{"database":"\u+041","file":"f","format":"custom","size":1,"pinned":false}"#, false),
        (#"{"database":"\u-041","file":"f","format":"custom","size":1,"pinned":false}"#, false),
        (#"{"database":"\u 041","file":"f","format":"custom","size":1,"pinned":false}"#, false),
        ("{\"database\":\"d\u{1}\",\"file\":\"f\",\"format\":\"custom\",\"size\":1,\"pinned\":false}", false),
        (#"[]"#, false), ("", false), (#"{"#, false),
        // Keys are matched as bytes: an escaped key, a prefix, a longer name, a non-ASCII unknown key.
        (#"{"d\u0061tabase":"e","file":"f","format":"custom","size":1,"pinned":false,"database":"d"}"#, true),
        (#"{"database":"d","d\u0061tabase":"e","file":"f","format":"custom","size":1,"pinned":false}"#, true),
        (#"{"data":"x","database":"d","databases":"y","file":"f","format":"custom","size":1,"pinned":false}"#, true),
        (#"{"dätabase":"x","database":"d","file":"f","format":"custom","size":1,"pinned":false,"":1}"#, true),
        // Repeated keys: the first counts, the rest are ignored whatever their type, as JSONDecoder does.
        (#"{"database":"d","database":"e","file":"f","format":"custom","size":1,"pinned":false,"size":"x"}"#, true),
        (#"{"pinned":true,"database":"d","file":"f","format":"custom","size":1,"pinned":false}"#, true),
    ])
    func neverDisagreesWithJSONDecoder(_ text: String, fastTakesIt: Bool) {
        let fast = Self.fast(text)
        #expect((fast != nil) == fastTakesIt, "\(text)")
        if fast != nil { #expect(Self.same(fast, Self.decoded(text)), "\(text)") }
        if fastTakesIt { #expect(Self.decoded(text) != nil, "JSONDecoder must take it too: \(text)") }
    }

    /// Manifests pgkeep writes, mutated at seeded random places (bytes flipped, cut, doubled,
    /// escapes and digits put in): whatever the fast reader takes, JSONDecoder takes with the same
    /// values, and whatever JSONDecoder refuses, the fast reader refuses.
    @Test func seededMutationsNeverMakeThemDisagree() throws {
        var rng = SplitMix(seed: UInt64(ProcessInfo.processInfo.environment["PGKEEP_FUZZ_SEED"] ?? "") ?? 20_261_202)
        let base =
            Array(
                #"{"database":"sh\u00f6p","file":"shop_2026-04-02T020000Z.dump.gz","format":"custom","size":123,"#.utf8
            )
            + Array(
                #""pinned":false,"label":"a\tb","anomalies":["x"],"finished_at":"2026","duration_seconds":1.5}"#.utf8)
        let alphabet = Array(#"\u+-0aF"{}[],:.eE 9"#.utf8) + [0x00, 0x7F, 0xC3, 0xFF]
        var taken = 0
        for _ in 0..<20_000 {
            var bytes = base
            for _ in 0..<Int(rng.next() % 3 + 1) {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 4 {
                case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                default: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 4)], at: at)
                }
            }
            let data = Data(bytes)
            let fast = data.withUnsafeBytes { ManifestSummaryParser.parse($0) }
            let decoded = try? JSONDecoder().decode(ManifestSummary.self, from: data)
            if fast != nil {
                taken += 1
                #expect(Self.same(fast, decoded), "\(String(decoding: data, as: UTF8.self))")
            }
            if decoded == nil { #expect(fast == nil, "\(String(decoding: data, as: UTF8.self))") }
        }
        // Not vacuous: many mutations (a changed letter in a value) are still manifests.
        #expect(taken > 1000, "only \(taken) mutations were read")
    }

    @Test func keysAreMatchedExactlyAndEscapedKeysCount() throws {
        let escaped = try #require(
            Self.fast(#"{"d\u0061tabase":"e","file":"f","format":"custom","size":1,"pinned":false}"#))
        #expect(escaped.database == "e")
        let near = try #require(
            Self.fast(
                #"{"data":"x","database":"d","databases":"y","file":"f","format":"custom","size":1,"pinned":false}"#))
        #expect(near.database == "d")
        let repeated = try #require(
            Self.fast(#"{"pinned":true,"database":"d","file":"f","format":"custom","size":1,"pinned":false}"#))
        #expect(repeated.pinned, "the first of repeated keys counts")
        var invalid = Data(#"{"d"#.utf8)
        invalid.append(0xFF)
        invalid.append(contentsOf: #"":1,"database":"d","file":"f","format":"custom","size":1,"pinned":false}"#.utf8)
        #expect(invalid.withUnsafeBytes { ManifestSummaryParser.parse($0) } == nil, "a key that is not UTF-8")
    }

    @Test func rejectsWhatIsNotJSON() {
        for text in [
            #"{"database":"d","file":"f","format":"custom","size":1,"pinned":false,}"#,
            #"{"database":"d","file":"f","format":"custom","size":1,"pinned":false} x"#,
            #"{"database":"d\ud800","file":"f","format":"custom","size":1,"pinned":false}"#,
        ] {
            #expect(Self.fast(text) == nil, "\(text)")
        }
    }
}
