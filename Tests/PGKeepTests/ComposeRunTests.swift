import Foundation
import Testing

@testable import PGKeep

/// Which markers in a container belong to a pgkeep that is gone, and whose backends a sweep ends.
@Suite struct ComposeRunTests {
    func run() -> ComposeRun {
        ComposeRun(sweepBase: Command(executable: "/bin/true", arguments: [], environment: [:]))
    }

    @Test func deadRunsAreThoseOfAPGKeepNoLongerRunning() {
        let mine = run()
        let sibling = run()
        let me = getpid()
        let gone = Int32(4_194_303)  // above any pid_max default: never running
        let listing = [
            mine.prefix + "-pid-12", mine.file("restore-1"), sibling.prefix + "-pid-40",
            "/tmp/.pgkeep-\(gone)-k3f9q27-pid-3", "/tmp/.pgkeep-\(gone)-k3f9q27-restore-9",
            "/tmp/.pgkeep-\(me)-zzzzzz99-pid-5",  // an earlier pgkeep that had this pid
            "/tmp/.pgkeep-1-abcdef5-pid-8",  // pid 1 here is not a pgkeep
            "/tmp/.pgkeep-x-abcdef5-pid-8", "/tmp/.pgkeep-7-5-pid-8", "/tmp/.pgkeep-7-ABCDEF5-pid-8", "/tmp/other", "",
        ].joined(separator: "\n")
        #expect(
            Set(mine.deadRuns(in: listing)) == [
                "/tmp/.pgkeep-1-abcdef5", "/tmp/.pgkeep-\(gone)-k3f9q27", "/tmp/.pgkeep-\(me)-zzzzzz99",
            ])
    }

    /// A run's application_name is its process's: `pgkeep-PID-TAG`, TAG the six characters after
    /// the pid; this process's runs carry its own.
    @Test func aRunsApplicationNameIsItsProcesss() {
        #expect(ComposeRun.applicationName(ofRun: run().prefix) == ChildEnvironment.applicationName)
        #expect(ComposeRun.applicationName(ofRun: "/tmp/.pgkeep-12-k3f9q2123") == "pgkeep-12-k3f9q2")
        for bad in ["/tmp/.pgkeep-12-k3f9q2", "/tmp/.pgkeep-12-123", "/tmp/.pgkeep-x-k3f9q21", "/tmp/x-12-k3f9q21"] {
            #expect(ComposeRun.applicationName(ofRun: bad) == nil, "\(bad)")
        }
    }

    @Test func aSweepEndsTheBackendsOfItsRunsButNeverThisProcesssOthers() {
        let mine = run()
        let sibling = run()
        let gone = "/tmp/.pgkeep-4194303-k3f9q27"
        // An earlier pgkeep that had this pid has another tag: its sessions are not this process's.
        let earlierSelf = "/tmp/.pgkeep-\(getpid())-zzzzzz99"
        #expect(
            mine.sweepCommand(for: [mine.prefix]).arguments == ["'\(ChildEnvironment.applicationName)'", mine.prefix])
        #expect(
            mine.sweepCommand(for: [gone, earlierSelf]).arguments == [
                ["'pgkeep-4194303-k3f9q2'", "'pgkeep-\(getpid())-zzzzzz'"].sorted().joined(separator: ","), gone,
                earlierSelf,
            ])
        // A sibling run of this process keeps its sessions.
        #expect(mine.sweepCommand(for: [sibling.prefix]).arguments == ["", sibling.prefix])
    }
}
