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

/// Which container compose names for a service (`ComposeContainer.resolve`): exactly one id, in
/// hex, from a `ps -q` that succeeded, with a `docker` client on the search path; otherwise nil
/// (every command then goes through compose), and nil when PGKEEP_COMPOSE_EXEC=compose says so.
@Suite struct ComposeContainerTests {
    /// A stand-in compose whose `ps -q SERVICE` prints `output` and exits `status`, and a folder
    /// with a `docker` in it.
    func resolve(_ output: String, status: Int32 = 0, environment: [String: String] = [:]) -> ComposeContainer? {
        let bin = NSTemporaryDirectory() + "pgkeep-cc-\(UUID().uuidString.prefix(6))"
        try? FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: bin) }
        FileManager.default.createFile(
            atPath: bin + "/docker", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        let compose = Command(
            executable: "/bin/sh",
            arguments: ["-c", "[ \"$1 $2 $3\" = 'ps -q db' ] || exit 9; printf '\(output)'; exit \(status)", "sh"],
            environment: [:])
        return ComposeContainer.resolve(compose: compose, service: "db", environment: environment, searchPath: [bin])
    }

    @Test func oneHexIdIsTheContainer() {
        let found = resolve("3f2a9c\\n")
        #expect(found?.id == "3f2a9c")
        #expect(found?.docker.hasSuffix("/docker") == true)
        #expect(
            found?.execArguments(passingEnvironment: ["PGPASSWORD"], inner: ["psql"])
                == ["exec", "-i", "-e", "PGPASSWORD", "3f2a9c", "psql"])
    }

    @Test func anythingElseKeepsCompose() {
        #expect(resolve("") == nil, "not created")
        #expect(resolve("3f2a9c\\n77ab01\\n") == nil, "replicas")
        #expect(resolve("no such service\\n") == nil)
        #expect(resolve("3f2a9c\\n", status: 1) == nil, "ps failed")
        #expect(resolve("3f2a9c\\n", environment: ["PGKEEP_COMPOSE_EXEC": "compose"]) == nil, "turned off")
    }
}
