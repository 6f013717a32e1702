import Foundation
import Testing

@testable import PGKeep

/// This machine's /proc, which also shows the processes of its containers.
enum ProcScan {
    static func all() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    static func read(_ pid: Int32, _ file: String) -> Data? {
        FileManager.default.contents(atPath: "/proc/\(pid)/\(file)")
    }

    /// The processes whose command line holds `text`: "pid name" each.
    static func commandLines(containing text: String) -> [String] {
        let needle = Data(text.utf8)
        return all().compactMap { pid in
            guard let line = read(pid, "cmdline"), line.range(of: needle) != nil else { return nil }
            return "\(pid) " + String(decoding: read(pid, "comm") ?? Data(), as: UTF8.self)
        }
    }

    /// The children of `parent` (from /proc/PID/stat).
    static func children(of parent: Int32) -> [Int32] {
        all().filter { pid in
            guard let stat = read(pid, "stat"), let text = String(data: stat, encoding: .utf8),
                let close = text.lastIndex(of: ")")
            else { return false }
            let fields = text[text.index(close, offsetBy: 2)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent
        }
    }
}

/// A transaction in a service that holds ACCESS EXCLUSIVE on one table (psql through
/// `docker exec -i`), so that a pgkeep run reaching that table waits there: a run caught in the
/// middle, on demand.
final class TableLock {
    let project: ComposeProject
    let service: String
    let database: String
    private let child: ChildProcess

    init(_ project: ComposeProject, _ service: String, _ database: String, table: String) throws {
        self.project = project
        self.service = service
        self.database = database
        let docker = Command.find("docker", environment: RealDocker.pgkeepEnv) ?? "/usr/bin/docker"
        child = ChildProcess(
            Command(
                executable: docker,
                arguments: [
                    "exec", "-i", project.container(service), "psql", "-X", "-q", "-U", "postgres", "-d", database,
                ],
                environment: RealDocker.pgkeepEnv), stdin: .pipe)
        try child.start()
        let sql = "BEGIN; LOCK TABLE \(table) IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n"
        _ = Data(sql.utf8).withUnsafeBytes { FileSystem.writeUntilClosed(child.stdinDescriptor, $0) }
        let held = CopyTestSupport.wait(seconds: 30) {
            (try? project.psql(
                service, database,
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = '\(table)' "
                    + "AND l.mode = 'AccessExclusiveLock' AND l.granted")) == "1"
        }
        guard held else {
            release()
            throw PGKeepError(.backup, "could not lock \(table) in service \(service)")
        }
    }

    /// Waits (60 s at most) until a backend of pgkeep `pgkeepPID` waits for a lock.
    func waitForWaiter(pgkeepPID: Int32) -> Bool {
        CopyTestSupport.wait(seconds: 60) {
            (try? project.psql(
                service, "postgres",
                "SELECT count(*) FROM pg_stat_activity WHERE \(TestServer.appName(pgkeepPID)) "
                    + "AND wait_event_type = 'Lock'", pollTimeout: 10)) ?? "0" != "0"
        }
    }

    /// Ends the transaction (the lock goes) and psql.
    func release() {
        guard child.isRunning else { return }
        _ = Data("ROLLBACK;\n".utf8).withUnsafeBytes { FileSystem.writeUntilClosed(child.stdinDescriptor, $0) }
        child.closeStdin()
        if !child.waitForExit(timeout: 10) { child.terminate() }
        _ = child.wait()
    }

    deinit { release() }
}
