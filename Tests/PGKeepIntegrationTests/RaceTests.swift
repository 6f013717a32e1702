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
                Command(executable: TestServer.binary, arguments: args, environment: TestServer.connectionEnv))
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
}
