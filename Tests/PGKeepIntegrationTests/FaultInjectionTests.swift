import Foundation
import Testing

@testable import PGKeep

extension Tag {
    /// Syscall fault injection with strace: `Scripts/killpoints.sh` runs it in full.
    @Tag static var faultInjection: Self
}

/// Syscall faults, injected with `strace -f -e inject=SYSCALL:error=ERRNO:when=N` at successive
/// calls of a clean `backup` and a clean `prune` (sampled evenly when there are more calls than
/// the sample). After each: either the run failed and said so, or it succeeded and what it recorded
/// is whole; no manifest stands for anything incomplete; every earlier backup is intact; and the
/// next run succeeds.
@Suite(
    .enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .tags(.killPoints, .faultInjection))
struct FaultInjectionTests {
    /// Calls per syscall and errno (a sample under test.sh; the campaign sets more).
    static var perSyscall: Int { Int(TestServer.env["PGKEEP_FAULTS_PER_SYSCALL"] ?? "") ?? 2 }

    static let syscalls = [
        "write", "pwrite64", "fsync", "fdatasync", "rename", "renameat2", "link", "unlink", "unlinkat", "openat",
        "mkdir", "mkdirat", "close",
    ]

    /// How many times a clean run of `args` makes `syscall` (all processes and threads).
    static func calls(_ syscall: String, _ args: [String]) throws -> Int {
        let out = TestServer.tempDir("count") + "/count"
        _ = try TestServer.run(
            "/usr/bin/strace", ["-f", "-qq", "-c", "-o", out, "-e", "trace=\(syscall)", "--", TestServer.binary] + args)
        let text = String(decoding: FileManager.default.contents(atPath: out) ?? Data(), as: UTF8.self)
        let row = text.split(separator: "\n").first { $0.split(separator: " ").last == Substring(syscall) }
        let columns = row?.split(separator: " ") ?? []
        return columns.count >= 5 ? Int(columns[3]) ?? 0 : 0
    }

    /// `n` points spread evenly over 1...total.
    static func sample(_ total: Int, _ n: Int) -> [Int] {
        guard total > 0 else { return [] }
        if total <= n { return Array(1...total) }
        return (0..<n).map { 1 + $0 * (total - 1) / max(n - 1, 1) }
    }

    /// The run, and whether the fault hit pgkeep's own stderr (then it cannot say anything).
    static func inject(_ syscall: String, _ errno: String, at n: Int, _ args: [String]) throws -> (
        run: TestServer.Run, silenced: Bool
    ) {
        let trace = TestServer.tempDir("trace") + "/trace"
        let run = try TestServer.run(
            "/usr/bin/strace",
            [
                "-f", "-qq", "-o", trace, "-e", "trace=\(syscall)", "-e", "inject=\(syscall):error=\(errno):when=\(n)",
                "--",
            ]
                + [TestServer.binary] + args)
        let text = String(decoding: FileManager.default.contents(atPath: trace) ?? Data(), as: UTF8.self)
        let silenced = text.split(separator: "\n").contains {
            $0.contains("write(2, \"pgkeep") && $0.contains("(INJECTED)")
        }
        return (run, silenced)
    }

    /// One faulted run's verdict: nothing lost, and a failure that says what failed.
    static func check(
        _ label: String, run: TestServer.Run, silenced: Bool, dir: String, earlier: [String: String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Bool {
        var lost = try KillPointTests.checkAfterKill(label, dir: dir, earlier: earlier, pid: nil)
        if run.status != 0 && !silenced && run.stderr.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            Issue.record("\(label): failed (exit \(run.status)) without a word", sourceLocation: sourceLocation)
            lost = true
        }
        if run.status != 0, run.stderr.contains("pgkeep: error:"), !run.stderr.contains("/") {
            Issue.record("\(label): the message names no file: \(run.stderr)", sourceLocation: sourceLocation)
            lost = true
        }
        return lost
    }

    @Test(arguments: ["backup", "backup-zstd", "prune"])
    func everySyscallFailsCleanly(command: String) throws {
        let dir = TestServer.tempDir("inject")
        let backup =
            ["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"]
            + (command == "backup-zstd" ? ["--compress", "zstd"] : [])
        let prune = [
            "prune", "--dir", dir, "--keep-last", "1", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0",
        ]
        #expect(try TestServer.pgkeep(backup).status == 0)
        for syscall in Self.syscalls {
            if command == "prune" { #expect(try TestServer.pgkeep(backup).status == 0) }
            let args = command == "prune" ? prune : backup
            let total = try Self.calls(syscall, args)
            if command == "prune" { #expect(try TestServer.pgkeep(backup).status == 0) }
            for errno in ["EIO", "ENOSPC"] {
                for n in Self.sample(total, Self.perSyscall) {
                    if command == "prune" { _ = try TestServer.pgkeep(backup) }
                    let earlier = try KillPointTests.snapshot(dir)
                    let (run, silenced) = try Self.inject(syscall, errno, at: n, args)
                    // A prune deletes by design: what it was asked to delete may go.
                    let kept =
                        command == "prune"
                        ? earlier.filter { (try? KillPointTests.snapshot(dir))?[$0.key] != nil } : earlier
                    let label = "\(command): \(syscall) #\(n) of \(total) → \(errno)"
                    let lost = try Self.check(label, run: run, silenced: silenced, dir: dir, earlier: kept)
                    KillPointTests.record(
                        "fault \(command) \(syscall)", "\(errno)#\(n)\(run.status == 0 ? " (ran on)" : "")", lost: lost)
                }
            }
        }
        try KillPointTests.checkNextRun("fault injection \(command)", dir: dir)
    }
}
