import Foundation
import Testing

@testable import PGKeep

/// The pgkeep image (the repository's Dockerfile, built by Scripts/image.sh as PGKEEP_TEST_IMAGE)
/// on the real engine: pgkeep is PID 1 without privileges, `docker stop` ends it at once with
/// 143, the client tools it carries run, what it writes is private whatever the umask, and it
/// carries a manual page for every command.
@Suite(
    .enabled(
        if: (RealDocker.env["PGKEEP_TEST_IMAGE"] != nil || TestServer.required) && RealDocker.enabled,
        "needs the engine and the pgkeep image Scripts/test.sh makes"), .serialized)
struct ImageTests {
    static var image: String? { RealDocker.env["PGKEEP_TEST_IMAGE"] }

    @Test func pgkeepIsPID1WithoutPrivilegesAndStopsAtOnce() throws {
        let image = try #require(Self.image)
        // A daemon whose schedule is far away and whose server does not answer: it waits.
        let id = try RealDocker.docker([
            "run", "-d", "--network", "none", "-e", "PGKEEP_SCHEDULE_CRON=0 3 1 1 *", "-e",
            "PGKEEP_BACKUP_DIR=/backups",
            "-e", "PGKEEP_CONNECTION_HOST=127.0.0.1", "-e", "PGKEEP_CONNECTION_CONNECT_TIMEOUT=2", image, "daemon",
        ]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? RealDocker.docker(["rm", "-f", id], check: false) }
        let top = try RealDocker.docker(["exec", id, "cat", "/proc/1/cmdline", "/proc/1/status"]).stdout
        #expect(top.hasPrefix("/usr/local/bin/pgkeep\0daemon"), "PID 1 is pgkeep itself: \(top.prefix(80))")
        #expect(top.contains("Uid:\t10001\t10001"), "\(top)")
        // The kernel drops a signal to a namespace's PID 1 that has no handler: wait until pgkeep has
        // installed its SIGTERM handler (SigCgt bit 15), as any process needs a moment to.
        var caught = false
        for _ in 0..<100 where !caught {
            let status = try RealDocker.docker(["exec", id, "cat", "/proc/1/status"], check: false).stdout
            let mask = status.split(separator: "\n").first { $0.hasPrefix("SigCgt:") }
                .flatMap { UInt64($0.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) }
            caught = (mask ?? 0) & (1 << (UInt64(SIGTERM) - 1)) != 0
            if !caught { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(caught, "pgkeep catches SIGTERM")
        Thread.sleep(forTimeInterval: 1)
        let stopping = Date()
        try RealDocker.docker(["stop", "-t", "10", id])
        let took = Date().timeIntervalSince(stopping)
        let logs = try RealDocker.docker(["logs", "-t", id]).stdout
        #expect(took < 5, "SIGTERM ends the daemon well within the grace (took \(took) s); its log:\n\(logs)")
        let state = try RealDocker.docker(["inspect", "-f", "{{.State.ExitCode}} {{.State.OOMKilled}}", id]).stdout
        #expect(state.hasPrefix("143 "), "\(state)")
        #expect(logs.contains("started"), "\(logs)")
    }

    @Test func itsClientToolsRunAndItsFilesArePrivate() throws {
        let image = try #require(Self.image)
        for tool in ["pg_dump", "pg_restore", "psql", "pg_dumpall", "rclone", "age"] {
            let r = try RealDocker.docker([
                "run", "--rm", "--network", "none", "--entrypoint", tool, image, "--version",
            ])
            #expect(r.status == 0, "\(tool): \(r.stderr)")
            #expect(!tool.hasPrefix("p") || r.stdout.contains("PostgreSQL"), "\(tool): \(r.stdout)")
        }
        // A backup of nothing reachable still makes its directories; with umask 000 they are 0700.
        let r = try RealDocker.docker([
            "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image, "-c",
            "umask 000; pgkeep backup -h 127.0.0.1 -d nowhere --dir /backups/x >/dev/null 2>&1; "
                + "stat -c '%a %u' /backups /backups/x 2>/dev/null; id -u",
        ])
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.last == "10001", "\(r.stdout)")
        #expect(lines.first == "700 10001", "\(r.stdout)")
        #expect(!lines.dropFirst().dropLast().contains { !$0.hasPrefix("700 ") }, "\(r.stdout)")
    }

    /// The manual pages generate-manual made from this binary's command tree: one per command, in
    /// /usr/local/share/man/man1, each naming the options the command has now.
    @Test func itCarriesAManualPageForEveryCommand() throws {
        let image = try #require(Self.image)
        let r = try RealDocker.docker([
            "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image, "-c",
            "cd /usr/local/share/man/man1 && ls && head -n 3 pgkeep.1 && cat pgkeep.backup.1",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        // The commands, as the image's own pgkeep describes its tree.
        let tree = try RealDocker.docker(["run", "--rm", "--network", "none", image, "--experimental-dump-help"])
        let root = try #require(
            (try JSONSerialization.jsonObject(with: Data(tree.stdout.utf8)) as? [String: Any])?["command"]
                as? [String: Any])
        func pages(_ command: [String: Any], _ name: String) -> [String] {
            let subs = command["subcommands"] as? [[String: Any]] ?? []
            return [name + ".1"] + subs.flatMap { pages($0, name + "." + ($0["commandName"] as? String ?? "?")) }
        }
        let expected = pages(root, "pgkeep")
        #expect(expected.count > 15, "\(tree.stdout.prefix(300))")
        for page in expected {
            #expect(r.stdout.contains(page + "\n"), "\(page) missing: \(r.stdout.prefix(600))")
        }
        #expect(r.stdout.contains("Generated by swift-argument-parser"), "\(r.stdout.prefix(600))")
        #expect(r.stdout.contains(".Dt PGKEEP 1"), "\(r.stdout.prefix(600))")
        for option in ["lock-wait-timeout", "compress", "row-counts", "remote"] {
            #expect(r.stdout.contains("Fl -\(option)"), "pgkeep.backup.1 lacks --\(option)")
        }
    }
}
