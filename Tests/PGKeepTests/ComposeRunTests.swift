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
            "/tmp/.pgkeep-\(gone)-7-pid-3", "/tmp/.pgkeep-\(gone)-7-restore-9",
            "/tmp/.pgkeep-\(me)-99-pid-5",  // an earlier pgkeep that had this pid
            "/tmp/.pgkeep-1-5-pid-8",  // pid 1 here is not a pgkeep
            "/tmp/.pgkeep-x-5-pid-8", "/tmp/other", "",
        ].joined(separator: "\n")
        #expect(
            Set(mine.deadRuns(in: listing)) == ["/tmp/.pgkeep-1-5", "/tmp/.pgkeep-\(gone)-7", "/tmp/.pgkeep-\(me)-99"])
    }

    @Test func aSweepEndsTheBackendsOfItsRunsButNeverThisProcesssOthers() {
        let mine = run()
        let gone = "/tmp/.pgkeep-4194303-7"
        let earlierSelf = "/tmp/.pgkeep-\(getpid())-99"
        #expect(mine.sweepCommand(for: [mine.prefix]).arguments == ["'pgkeep-\(getpid())'", mine.prefix])
        #expect(
            mine.sweepCommand(for: [gone, earlierSelf]).arguments == ["'pgkeep-4194303'", gone, earlierSelf])
        #expect(mine.sweepCommand(for: [earlierSelf]).arguments == ["", earlierSelf])
    }
}
