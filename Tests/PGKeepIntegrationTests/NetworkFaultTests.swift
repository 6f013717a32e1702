import Foundation
import Testing

@testable import PGKeep

/// pgkeep against a network that fails mid-run: a connection that freezes (a peer that
/// acknowledges every packet and never answers, which TCP cannot see: the stall bound ends the
/// run), a connection reset, and a connection cut by the kernel (iptables DROP: the keepalives
/// end it). Each run must end within its bound, exit non-zero naming the cause, leave no backup,
/// no changed target, no scratch database and no session of its own, and the next run succeeds.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .serialized)
struct NetworkFaultTests {
    @Test func frozenConnectionMidBackupEndsAtTheStallBound() throws {
        let dir = TestServer.tempDir("netfreeze")
        let proxy = try HostileWorld.Proxy(freezeAfter: 400_000)
        defer { proxy.stop() }
        let (run, seconds) = try HostileWorld.timed([
            "backup", "--dir", dir, "-d", proxy.uri(AtomicRestoreTests.source), "--row-counts",
            "--stall-timeout", "4s",
        ])
        #expect(run.status == ExitCodes.timedOut, "\(run.stderr)")
        #expect(run.stderr.contains("no progress") && run.stderr.contains("dumping"), "\(run.stderr)")
        #expect(seconds < 20, "the stall bound is 4 s; it took \(seconds) s")
        #expect(HostileWorld.backupFiles(dir).isEmpty, "\(TestServer.listing(dir))")
        // New connections pass the proxy, so the sweep ended the frozen session's backend.
        #expect(try HostileWorld.sessionsLeft(of: run.pid) == 0)
        let next = try TestServer.pgkeep(["backup", "--dir", dir, "-d", HostileWorld.uri(AtomicRestoreTests.source)])
        #expect(next.status == 0, "\(next.stderr)")
    }

    @Test func frozenConnectionMidRestoreChangesNothing() throws {
        let path = try HostileWorld.backup(of: AtomicRestoreTests.source)
        let target = TestServer.uniqueName("frozen_target")
        try TestServer.createDatabase(target)
        defer { TestServer.dropDatabase(target) }
        // Frozen once 2 MB of the script went up: well inside its COPY data, whatever the speed.
        let proxy = try HostileWorld.Proxy(freezeAfterUp: 2_000_000)
        defer { proxy.stop() }
        let (run, seconds) = try HostileWorld.timed(
            ["restore", path, "-d", proxy.uri(target), "--stall-timeout", "4s"])
        #expect(run.status == ExitCodes.timedOut, "\(run.stderr)")
        #expect(run.stderr.contains("restoring into"), "\(run.stderr)")
        #expect(seconds < 25, "took \(seconds) s")
        #expect(try HostileWorld.sessionsLeft(of: run.pid, within: 10) == 0)
        #expect(try TestServer.rowCounts(target).isEmpty, "the target was changed")
        let next = try TestServer.pgkeep(["restore", path, "-d", target])
        #expect(next.status == 0, "\(next.stderr)")
    }

    @Test func frozenConnectionMidCopyDropsTheCopy() throws {
        let target = TestServer.uniqueName("frozen_copy")
        let proxy = try HostileWorld.Proxy(freezeAfter: 2_000_000)
        defer { proxy.stop() }
        let (run, seconds) = try HostileWorld.timed(
            [
                "copy", "--from", proxy.uri(AtomicRestoreTests.source), "--to", HostileWorld.uri(target),
                "--stall-timeout", "4s",
            ], env: CopyTestSupport.env)
        #expect(run.status == ExitCodes.timedOut, "\(run.stderr)")
        #expect(seconds < 25, "took \(seconds) s")
        #expect(try CopyTestSupport.leftovers("pgkeep_copy_", on16: false) == "0")
        #expect(try TestServer.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(target)'") == "0")
        #expect(try HostileWorld.sessionsLeft(of: run.pid, within: 10) == 0)
    }

    @Test func resetMidRestoreRollsBack() throws {
        let path = try HostileWorld.backup(of: AtomicRestoreTests.source)
        let target = TestServer.uniqueName("reset_target")
        let proxy = try HostileWorld.Proxy(resetAfter: 3_000_000)
        defer { proxy.stop() }
        let (run, seconds) = try HostileWorld.timed(["restore", path, "-d", proxy.uri(target), "--create"])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.contains("connection") || run.stderr.contains("server closed"), "\(run.stderr)")
        #expect(run.stderr.contains("was dropped again"), "\(run.stderr)")
        #expect(seconds < 30, "took \(seconds) s")
        #expect(try TestServer.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(target)'") == "0")
        #expect(try HostileWorld.sessionsLeft(of: run.pid) == 0)
    }

    /// A real cut: the kernel drops every packet of the connection (iptables on loopback), so
    /// nothing answers, not even the proxy's TCP stack. The client's keepalives notice.
    @Test(.enabled(if: HostileWorld.iptablesWorks, "needs iptables (root)"))
    func connectionCutByTheKernelEndsWithinTheKeepaliveBound() throws {
        let dir = TestServer.tempDir("netcut")
        let proxy = try HostileWorld.Proxy()
        defer { proxy.stop() }
        let rule = ["-p", "tcp", "--dport", proxy.port, "-j", "DROP"]
        let ruleBack = ["-p", "tcp", "--sport", proxy.port, "-j", "DROP"]
        defer {
            _ = try? TestServer.run("/usr/sbin/iptables", ["-D", "INPUT"] + rule)
            _ = try? TestServer.run("/usr/sbin/iptables", ["-D", "INPUT"] + ruleBack)
        }
        // Keepalives turned down in the URI (the user's values win over pgkeep's defaults), and
        // no stall bound, so that only TCP can end it.
        let uri = proxy.uri(
            AtomicRestoreTests.source,
            "keepalives_idle=2&keepalives_interval=1&keepalives_count=2&tcp_user_timeout=4000")
        let (run, seconds) = try HostileWorld.timed(
            ["backup", "--dir", dir, "-d", uri, "--stall-timeout", "none"],
            whileRunning: { _ in
                Thread.sleep(forTimeInterval: 0.4)
                _ = try? TestServer.run("/usr/sbin/iptables", ["-I", "INPUT"] + rule)
                _ = try? TestServer.run("/usr/sbin/iptables", ["-I", "INPUT"] + ruleBack)
            })
        #expect(run.status != 0, "\(run.stderr)")
        #expect(seconds < 30, "took \(seconds) s")
        #expect(HostileWorld.backupFiles(dir).isEmpty, "\(TestServer.listing(dir))")
    }
}

extension NetworkFaultTests {
    /// SIGTERM while the kernel drops the connection: pgkeep cannot reach the server to end its
    /// sessions, and says so (which sessions may hold locks, until when) instead of "all clean".
    @Test(.enabled(if: HostileWorld.iptablesWorks, "needs iptables (root)"))
    func cancelThatCannotReachTheServerSaysWhichSessionsMayHoldLocks() throws {
        let dir = TestServer.tempDir("netcut-term")
        let proxy = try HostileWorld.Proxy()
        defer { proxy.stop() }
        let rules = [
            ["-p", "tcp", "--dport", proxy.port, "-j", "DROP"], ["-p", "tcp", "--sport", proxy.port, "-j", "DROP"],
        ]
        defer { for rule in rules { _ = try? TestServer.run("/usr/sbin/iptables", ["-D", "INPUT"] + rule) } }
        let (run, seconds) = try HostileWorld.timed(
            ["backup", "--dir", dir, "-d", proxy.uri(AtomicRestoreTests.source), "--row-counts"],
            whileRunning: { pid in
                Thread.sleep(forTimeInterval: 0.4)
                for rule in rules { _ = try? TestServer.run("/usr/sbin/iptables", ["-I", "INPUT"] + rule) }
                Thread.sleep(forTimeInterval: 1)
                kill(pid, SIGTERM)
            })
        #expect(run.status == 143, "\(run.stderr)")
        #expect(seconds < 15, "SIGTERM must end it within docker's grace; it took \(seconds) s")
        #expect(run.stderr.contains("could not be reached to end pgkeep's sessions"), "\(run.stderr)")
        #expect(run.stderr.contains("application_name pgkeep-\(run.pid)"), "\(run.stderr)")
        #expect(HostileWorld.backupFiles(dir).isEmpty)
    }
}

extension HostileWorld {
    static let iptablesWorks: Bool = {
        guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/iptables") else { return false }
        return (try? TestServer.run("/usr/sbin/iptables", ["-L", "INPUT", "-n"]).status) == 0
    }()
}
