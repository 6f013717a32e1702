import Foundation
import Testing

@testable import PGKeep

/// Races: backup, prune, restore --latest, verify --all, list and pin started together on one
/// directory, round after round. Every outcome is success or the documented lock refusal (75);
/// afterwards every manifested backup verifies and the retention policy holds.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .tags(.killPoints))
struct RaceTests {
    static var rounds: Int { Int(TestServer.env["PGKEEP_RACE_ROUNDS"] ?? "") ?? 3 }

    /// Starts pgkeep `args` without waiting; `finish` returns its exit status and stderr.
    struct Started {
        let child: ChildProcess
        let args: [String]

        init(_ args: [String]) throws {
            self.args = args
            child = ChildProcess(
                Command(executable: TestServer.binary, arguments: args, environment: TestServer.connectionEnv),
                stdout: .collect)
            child.redactsStderr = false
            try child.start()
        }

        func finish() -> (status: Int32, stderr: String) {
            let result = child.wait()
            if case .exited(let code) = result.termination { return (code, result.stderr) }
            return (-1, result.stderr)
        }
    }

    @Test func everyCommandAtOnceOnOneDirectory() throws {
        let dir = TestServer.tempDir("race")
        let policy = ["--keep-last", "3", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0"]
        #expect(try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"]).status == 0)
        var outcomes: [String: Int] = [:]
        for round in 0..<Self.rounds {
            let newest = try #require(KillPointTests.backups(dir).map(\.path).max())
            let target = TestServer.uniqueName("race\(round)")
            defer { TestServer.dropDatabase(target) }
            let commands: [[String]] = [
                ["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"],
                ["prune", "--dir", dir] + policy,
                ["restore", "--latest", "--database", TestServer.pagila, "--dir", dir, "-d", target, "--create"],
                ["verify", "--all", "--dir", dir],
                ["list", "--dir", dir],
                ["pin", newest],
            ]
            let started = try commands.map { try Started($0) }
            for run in started {
                let (status, stderr) = run.finish()
                let name = run.args[0]
                let outcome = status == 0 ? "ok" : status == ExitCodes.locked ? "locked out (75)" : "FAILED \(status)"
                outcomes["\(name) \(outcome)", default: 0] += 1
                KillPointTests.record("race \(name)", "round \(round): \(outcome)", lost: outcome.hasPrefix("FAILED"))
                #expect(status == 0 || status == ExitCodes.locked, "round \(round): \(run.args): \(stderr)")
                if status == ExitCodes.locked { #expect(stderr.contains("another pgkeep run holds"), "\(stderr)") }
            }
            _ = try TestServer.pgkeep(["unpin", newest])
        }
        print(
            "races over \(Self.rounds) rounds: "
                + outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        // Afterwards: every backup verifies, and a prune leaves what the policy keeps.
        let verify = try TestServer.pgkeep(["verify", "--all", "--dir", dir])
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(try TestServer.pgkeep(["prune", "--dir", dir] + policy).status == 0)
        let left = try KillPointTests.backups(dir)
        #expect(left.filter { !$0.manifest.pinned }.count <= 3, "retention holds: \(left.map(\.path))")
        #expect(left.count >= 1)
    }

    /// Listings (`list`, `prune --dry-run`, `status`), which read and write the catalog cache,
    /// raced by a backup and a prune on the same folder, round after round: every listing names
    /// only backups that existed before or after the round, and once nothing runs a listing
    /// through the cache gives what the manifests give.
    @Test func theCatalogCacheRacedByBackupAndPrune() throws {
        let dir = TestServer.tempDir("racec")
        let policy = ["--keep-last", "2", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0"]
        for _ in 0..<2 {
            #expect(
                try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"]).status == 0)
        }
        let list = ["list", "--dir", dir, "--json"]
        func listed(_ json: String) -> Set<String> {
            let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
            let rows = (object?["backups"] ?? object?["candidates"]) as? [[String: Any]] ?? []
            return Set(rows.compactMap { $0["path"] as? String })
        }
        func backups() throws -> Set<String> {
            Set(try KillPointTests.backups(dir).map { String($0.path.dropLast(BackupName.manifestSuffix.count)) })
        }
        for round in 0..<Self.rounds {
            usleep(UInt32((CatalogCache.settleSeconds + 0.3) * 1_000_000))
            _ = try TestServer.pgkeep(list)  // writes the summary the racing listings read
            let before = try backups()
            let commands: [[String]] = [
                ["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"],
                list,
                ["prune", "--dir", dir] + policy,
                ["prune", "--dir", dir, "--dry-run", "--json"] + policy,
                list,
                ["status", "--dir", dir, "--max-age", "1000d", "--json"],
                list,
            ]
            let started = try commands.map { try Started($0) }
            var outputs: [String] = []
            for run in started {
                let result = run.child.wait()
                let status: Int32
                if case .exited(let code) = result.termination { status = code } else { status = -1 }
                #expect(status == 0 || status == ExitCodes.locked, "round \(round): \(run.args): \(result.stderr)")
                if run.args[0] == "list" || run.args.contains("--dry-run") {
                    outputs.append(String(decoding: result.stdout, as: UTF8.self))
                }
            }
            let after = try backups()
            for out in outputs {
                let extra = listed(out).subtracting(before.union(after))
                #expect(!listed(out).isEmpty && extra.isEmpty, "round \(round): listed what never was: \(extra)")
            }
            // Nothing runs now: through the cache (written, then read) as from the manifests.
            usleep(UInt32((CatalogCache.settleSeconds + 0.3) * 1_000_000))
            let written = try TestServer.pgkeep(list).stdout
            let read = try TestServer.pgkeep(list).stdout
            for name in TestServer.listing(dir) where name.hasPrefix(CatalogCache.prefix) { unlink(dir + "/" + name) }
            let fromManifests = try TestServer.pgkeep(list).stdout
            #expect(written == fromManifests && read == fromManifests, "round \(round)")
            #expect(listed(read) == after, "round \(round)")
        }
    }
}
