import Foundation
import Testing

@testable import PGKeep

/// `--encrypt-to` (age, after compression) and `--identity` on restore, verify and the drill.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct EncryptionTests {
    static func scratchDirectories(in dir: String = NSTemporaryDirectory()) -> Set<String> {
        Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
                $0.hasPrefix("pgkeep-restore.")
            })
    }

    @Test func anEncryptedBackupHoldsNoPlaintext() throws {
        let key = try TestServer.ageKey()
        let dir = TestServer.tempDir("encplain")
        // Uncompressed SQL, so that only the encryption can hide the rows; the control shows the
        // check would see them.
        let control = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir + "/control", "--format", "plain", "--no-compress",
        ])
        #expect(control.status == 0, "\(control.stderr)")
        let run = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir + "/enc", "--format", "plain", "--no-compress",
            "--encrypt-to", key.recipient,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let row = Data("ACADEMY DINOSAUR".utf8)
        let (cpath, cm) = try #require(try TestServer.manifests(dir + "/control").first)
        #expect(
            FileManager.default.contents(atPath: (cpath as NSString).deletingLastPathComponent + "/" + cm.file)!.range(
                of: row) != nil)
        let (mpath, m) = try #require(try TestServer.manifests(dir + "/enc").first)
        #expect(m.file.hasSuffix(".sql.age"))
        let data = try #require(
            FileManager.default.contents(atPath: (mpath as NSString).deletingLastPathComponent + "/" + m.file))
        #expect(data.range(of: row) == nil, "no plaintext row in the encrypted file")
        #expect(data.starts(with: AgeTool.header))
        #expect(m.encryption?.recipients == [key.recipient])
        #expect(m.encryption?.plaintextSize == m.uncompressedSize)
        let manifestText = String(decoding: FileManager.default.contents(atPath: mpath)!, as: UTF8.self)
        #expect(!manifestText.contains(key.secret))
        // pgkeep still lists it as a backup.
        let list = try TestServer.pgkeep(["list", "--dir", dir + "/enc", "--json"])
        #expect(list.stdout.contains(m.file), "\(list.stdout)")
    }

    @Test func itRestoresWithItsKeyOnlyAndTheKeyNeverShows() throws {
        let key = try TestServer.ageKey()
        let other = try TestServer.ageKey()
        let dir = TestServer.tempDir("enc")
        let b = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir, "--row-counts", "--encrypt-to", key.recipient,
        ])
        #expect(b.status == 0, "\(b.stderr)")
        let (mpath, _) = try #require(try TestServer.manifests(dir).first)
        let target = TestServer.uniqueName("encrestore")
        defer { TestServer.dropDatabase(target) }
        // The restores' own TMPDIR: the other tests' scratch directories come and go in the shared one.
        var env = TestServer.connectionEnv
        env["TMPDIR"] = TestServer.tempDir("enctmp")
        let tmp = env["TMPDIR"]!
        let scratchBefore = Self.scratchDirectories(in: tmp)
        var sawScratch = false

        let none = try TestServer.pgkeep(["restore", mpath, "--dbname", target, "--create"], env: env)
        #expect(none.status == ExitCodes.usage)
        #expect(
            none.stderr.contains("is encrypted with age to \(key.recipient); give --identity FILE"), "\(none.stderr)")
        let wrong = try TestServer.pgkeep(
            [
                "restore", mpath, "--dbname", target, "--create", "--identity", other.keyFile,
            ], env: env)
        #expect(wrong.status == ExitCodes.failure)
        #expect(wrong.stderr.contains("is not one of its recipients; the target was not touched"), "\(wrong.stderr)")
        #expect(try TestServer.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(target)'") == "0")

        var leaks: [String] = []
        let right = try TestServer.pgkeep(
            [
                "restore", mpath, "--dbname", target, "--create", "--verify", "--identity", key.keyFile,
            ], env: env
        ) { pid in
            while TestServer.alive(pid) {
                if !Self.scratchDirectories(in: tmp).isEmpty { sawScratch = true }
                for (_, argv) in SecurityTests.allArgv() where argv.contains("AGE-SECRET-KEY") { leaks.append(argv) }
                usleep(2_000)
            }
        }
        #expect(right.status == 0, "\(right.stderr)")
        #expect(try TestServer.rowCounts(target) == TestServer.rowCounts(TestServer.pagila))
        #expect(leaks.isEmpty, "no argv holds the key: \(leaks)")
        for r in [none, wrong, right] {
            #expect(!r.stdout.contains(key.secret) && !r.stderr.contains(key.secret))
        }
        #expect(sawScratch, "the decrypted copy is made in TMPDIR")
        #expect(scratchBefore.isEmpty && Self.scratchDirectories(in: tmp).isEmpty, "the decrypted copy is removed")

        // verify and its drill decrypt with the same key; without it they fail clearly.
        let verify = try TestServer.pgkeep([
            "verify", "--all", "--dir", dir, "--identity", key.keyFile, "--restore-drill",
        ])
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stderr.contains("row counts match the manifest"), "\(verify.stderr)")
        let noKey = try TestServer.pgkeep(["verify", "--all", "--dir", dir])
        #expect(noKey.status == ExitCodes.failure)
        #expect(noKey.stderr.contains("give --identity FILE"), "\(noKey.stderr)")
    }

    /// age reads passphrases from a terminal only: pgkeep gives it one (a pseudo-terminal) and
    /// streams the data through FIFOs. The passphrase never reaches argv or output. (zstd here: the
    /// key test covers gzip.)
    @Test func aPassphraseWorksLikeAKeyAndNeverShows() throws {
        let dir = TestServer.tempDir("encpass")
        let secret = "Pass-\(UUID().uuidString)"
        try FileSystem.writePrivateFile(dir + "/pass", data: Data((secret + "\n").utf8))
        try FileSystem.writePrivateFile(dir + "/wrong", data: Data("not-it\n".utf8))
        var leaks: [String] = []
        let sample: (Int32) -> Void = { pid in
            while TestServer.alive(pid) {
                for (_, argv) in SecurityTests.allArgv() where argv.contains(secret) { leaks.append(argv) }
                usleep(2_000)
            }
        }
        let b = try TestServer.pgkeep(
            [
                "backup", "-d", TestServer.pagila, "--dir", dir + "/b", "--row-counts",
                "--encrypt-passphrase-file", dir + "/pass", "--compress", "zstd",
            ], whileRunning: sample)
        #expect(b.status == 0, "\(b.stderr)")
        let (mpath, m) = try #require(try TestServer.manifests(dir + "/b").first)
        #expect(m.encryption?.passphrase == true && m.encryption?.recipients == [])
        #expect(m.file.hasSuffix(".dump.zst.age") && m.compression.algorithm == "zstd")
        #expect(
            TestServer.listing(dir + "/b").allSatisfy { !$0.contains(".pgkeep-tmp-") },
            "no FIFO or temporary file is left")
        let target = TestServer.uniqueName("encpass")
        defer { TestServer.dropDatabase(target) }
        let none = try TestServer.pgkeep(["restore", mpath, "--dbname", target, "--create"])
        #expect(none.status == ExitCodes.usage)
        #expect(none.stderr.contains("give --passphrase-file FILE"), "\(none.stderr)")
        let wrong = try TestServer.pgkeep([
            "restore", mpath, "--dbname", target, "--create", "--passphrase-file", dir + "/wrong",
        ])
        #expect(wrong.status == ExitCodes.failure)
        #expect(wrong.stderr.contains("the passphrase is not the one it was encrypted with"), "\(wrong.stderr)")
        let right = try TestServer.pgkeep(
            ["restore", mpath, "--dbname", target, "--create", "--verify", "--passphrase-file", dir + "/pass"],
            whileRunning: sample)
        #expect(right.status == 0, "\(right.stderr)")
        #expect(try TestServer.rowCounts(target) == TestServer.rowCounts(TestServer.pagila))
        #expect(leaks.isEmpty, "\(leaks)")
        for r in [b, none, wrong, right] { #expect(!r.stdout.contains(secret) && !r.stderr.contains(secret)) }
        #expect(!String(decoding: FileManager.default.contents(atPath: mpath)!, as: UTF8.self).contains(secret))
    }

    @Test func aTamperedEncryptedFileIsRefusedBeforeDecrypting() throws {
        let key = try TestServer.ageKey()
        let dir = TestServer.tempDir("enctamper")
        let b = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only", "--encrypt-to", key.recipient,
        ])
        #expect(b.status == 0, "\(b.stderr)")
        let (mpath, m) = try #require(try TestServer.manifests(dir).first)
        let file = (mpath as NSString).deletingLastPathComponent + "/" + m.file
        let h = try #require(FileHandle(forUpdatingAtPath: file))
        try h.seek(toOffset: UInt64(m.size / 2))
        try h.write(contentsOf: Data([0xde, 0xad]))
        try h.close()
        let target = TestServer.uniqueName("enctamper")
        defer { TestServer.dropDatabase(target) }
        let run = try TestServer.pgkeep(["restore", mpath, "--dbname", target, "--create", "--identity", key.keyFile])
        #expect(run.status == ExitCodes.failure)
        #expect(run.stderr.contains("does not match its manifest"), "\(run.stderr)")
    }

    @Test func theConfigEncryptsEveryRunAndNamesTheKey() throws {
        let key = try TestServer.ageKey()
        let dir = TestServer.tempDir("encrun")
        let config = try TestServer.runConfig(
            in: dir,
            """
            [encryption]
            recipients = ["\(key.recipient)"]
            identity_file = "\(key.keyFile)"
            """)
        let run = try TestServer.pgkeep(["run", "--config", config, "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        let (_, m) = try #require(try TestServer.manifests(dir + "/backups").first)
        #expect(m.file.hasSuffix(".dump.gz.age") && m.encryption != nil)
        let verify = try TestServer.pgkeep(["verify", "--all", "--config", config])
        #expect(verify.status == 0, "the identity comes from the config: \(verify.stderr)")
        // A secret key where a recipient belongs is refused without being echoed.
        try FileSystem.writePrivateFile(
            dir + "/bad.toml", data: Data("[encryption]\nrecipients = [\"\(key.secret)\"]\n".utf8))
        let bad = try TestServer.pgkeep(["config", "check", dir + "/bad.toml"])
        #expect(bad.status == ExitCodes.usage)
        #expect(
            bad.stderr.contains("bad.toml:2: encryption.recipients: --encrypt-to got a secret key"), "\(bad.stderr)")
        #expect(!bad.stderr.contains(key.secret))
    }
}
