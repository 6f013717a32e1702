import Foundation
import Testing

@testable import PGKeep

/// Generated hostile input, a few thousand of each (seeded, reproducible): backup names,
/// manifests, config files and connection strings. No crash, no hang: a clear error or a
/// correct parse.
@Suite struct HostileInputTests {
    static var count: Int { Int(ProcessInfo.processInfo.environment["PGKEEP_HOSTILE_INPUTS"] ?? "") ?? 2000 }

    /// Seeded mutations of valid input (SplitMix64 underneath).
    struct Generator {
        var random: SplitMix
        init(state: UInt64) { random = SplitMix(seed: state) }
        mutating func below(_ n: Int) -> Int { Int(random.next() % UInt64(max(n, 1))) }

        static let alphabet = Array("aZ09_-.:/@=?&%'\" \\\t\n{}[]#$é\u{0}\u{FEFF}ﬁ😀".unicodeScalars)

        /// `text` with a few random edits: deletions, insertions, replacements, truncation.
        mutating func mutate(_ text: String) -> String {
            var scalars = Array(text.unicodeScalars)
            for _ in 0..<(1 + below(4)) {
                let i = below(scalars.count + 1)
                switch below(5) {
                case 0 where !scalars.isEmpty: scalars.remove(at: min(i, scalars.count - 1))
                case 1: scalars.insert(Self.alphabet[below(Self.alphabet.count)], at: i)
                case 2 where !scalars.isEmpty:
                    scalars[min(i, scalars.count - 1)] = Self.alphabet[below(Self.alphabet.count)]
                case 3: scalars = Array(scalars.prefix(i))
                default:
                    scalars.insert(contentsOf: Array(String(repeating: "9", count: below(40)).unicodeScalars), at: i)
                }
            }
            var out = ""
            out.unicodeScalars.append(contentsOf: scalars)
            return out
        }
    }

    @Test func backupNamesParseExactlyOrNotAtAll() {
        var g = Generator(state: 1)
        let valid = [
            "shop_2026-04-02T020000Z.dump.gz", "my_db_2026-12-31T235959Z-17.sql.gz", "x_2026-01-01T000000Z.dir",
            "a_2026-02-28T120000Z.dump.gz.age", "pgkeep_globals_2026-04-02T020000Z.globals.sql.gz",
        ]
        var parsed = 0
        for i in 0..<Self.count {
            let name = g.mutate(valid[i % valid.count])
            if let n = BackupName.parse(fileName: name) {
                parsed += 1
                // What parses is exactly what pgkeep would write under that name.
                #expect(n.fileName == name, "\(name) parsed as \(n.fileName)")
            }
        }
        #expect(parsed < Self.count, "most mutations are not names")
    }

    static let manifestText: String = {
        let m = Manifest(
            database: "shop", file: "shop_2026-04-02T020000Z.dump.gz", format: .custom,
            compression: .init(algorithm: "gzip", level: 6, appliedBy: "pgkeep"), size: 1234,
            sha256: String(repeating: "a", count: 64),
            uncompressedSize: 5678, files: nil, startedAt: "2026-04-02T02:00:00Z", finishedAt: "2026-04-02T02:00:01Z",
            durationSeconds: 1, label: nil, serverVersion: "15.18", serverVersionNum: 150018, pgDumpVersion: "15.18",
            pgDumpOptions: [], source: "postgresql://x", dockerCompose: nil,
            verification: Manifest.Verification(verifiedAt: "2026-04-02T02:00:01Z", sha256Reread: true),
            rowCounts: ["public.t": 3])
        return String(decoding: (try? m.encoded()) ?? Data(), as: UTF8.self)
    }()

    @Test func manifestsTruncatedRetypedHugeOrForeignAreRefusedCleanly() throws {
        var g = Generator(state: 2)
        let dir = NSTemporaryDirectory() + "pgkeep-hostile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let specials = [
            "", "null", "[]", "{}", "\"x\"", Self.manifestText.replacingOccurrences(of: "1234", with: "1e400"),
            Self.manifestText.replacingOccurrences(of: "1234", with: "92233720368547758070"),
            Self.manifestText.replacingOccurrences(of: "\"shop\"", with: "42"),
            Self.manifestText.replacingOccurrences(of: "{", with: "{\"unknown\": {\"deep\": [1, 2, 3]},"),
        ]
        var accepted = 0
        for i in 0..<Self.count {
            var data = Data((i < specials.count ? specials[i] : g.mutate(Self.manifestText)).utf8)
            if i % 97 == 0 { data.append(contentsOf: [0xff, 0xfe, 0xc3]) }  // not UTF-8
            let path = dir + "/m\(i % 8).manifest.json"
            try data.write(to: URL(fileURLWithPath: path))
            do {
                let m = try Manifest.load(path: path)
                accepted += 1
                // What decodes writes back to the same thing.
                #expect(try Manifest.decode(try m.encoded()).sha256 == m.sha256)
            } catch let error as PGKeepError {
                #expect(error.message.contains(path), "the error names the file")
            }
            _ = ManifestSummary.load(path: path)
        }
        // 10 MB of one string: refused by the scanner (over its limit) or decoded, never a hang.
        let big = Self.manifestText.replacingOccurrences(
            of: "\"shop\"", with: "\"" + String(repeating: "x", count: 10 << 20) + "\"")
        try Data(big.utf8).write(to: URL(fileURLWithPath: dir + "/big.manifest.json"))
        #expect((try? Manifest.load(path: dir + "/big.manifest.json"))?.database.count == 10 << 20)
        #expect(accepted < Self.count)
    }

    @Test func configFilesParseOrNameTheirFault() throws {
        var g = Generator(state: 3)
        let example = try String(contentsOfFile: SettingsTests.examplesPath("pgkeep.toml"), encoding: .utf8)
        var refused = 0
        for _ in 0..<Self.count {
            do {
                _ = try PGKeepConfig.parse(g.mutate(example), path: "/etc/pgkeep/pgkeep.toml")
            } catch let error as PGKeepError {
                refused += 1
                #expect(error.kind == .usage && error.message.hasPrefix("/etc/pgkeep/pgkeep.toml"), "\(error.message)")
            }
        }
        #expect(refused > 0)
    }

    @Test func connectionStringsParseOrSayWhy() {
        var g = Generator(state: 4)
        let seeds = [
            "postgresql://user:secret@db.example.com:5432/shop?sslmode=require&application_name=x",
            "host=db port=5432 user=app password='it''s' dbname=shop", "postgres:///shop?host=/var/run/postgresql",
            "postgresql://[::1]:5433/db", "shop",
        ]
        for i in 0..<Self.count {
            let text = g.mutate(seeds[i % seeds.count])
            do {
                let spec = try ConnectionSpec.parse(text, source: "--dbname")
                // Whatever parsed is shown without its password.
                if let password = spec.password, password.count > 3 {
                    #expect(!spec.displayURI().contains(":" + password + "@"))
                }
            } catch let error as PGKeepError {
                #expect(error.kind == .usage || error.kind == .preflight, "\(error.message)")
            } catch {
                Issue.record("\(text): \(error)")
            }
        }
    }
}
