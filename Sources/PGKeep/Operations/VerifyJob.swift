import Foundation

/// `pgkeep verify`: checks backups again long after they were taken. Every backup is read to its
/// end: the sha256 against its manifest, then the whole stream (gzip CRC and length, and for
/// archives every data block through `pg_restore --file=/dev/null`, for SQL scripts pg_dump's
/// closing line). With a drill, the backup is also restored into a scratch database with a
/// unique name, its row counts compared with the manifest's, and the scratch database dropped,
/// whether the drill passed or not.
public final class VerifyJob {
    public let tools: PostgresTools
    public let environment: [String: String]
    /// Where drills restore; nil: no drill.
    public let drill: ConnectionSpec?
    /// The age key file for encrypted backups.
    public var identity: String?
    /// The passphrase for passphrase-encrypted backups.
    public var passphrase: String?
    public var onStatus: ((String) -> Void)?

    public init(tools: PostgresTools, environment: [String: String], drill: ConnectionSpec?) {
        self.tools = tools
        self.environment = environment
        self.drill = drill
    }

    /// What was checked for one backup.
    public struct Outcome: Sendable {
        public var path: String
        public var database: String?
        public var checks: [String] = []
        /// The drill's scratch database and the rows it restored; nil without a drill.
        public var drillDatabase: String?
        public var drillRows: Int?
        public var drillTables: Int?
    }

    public func verify(_ path: String) throws -> Outcome {
        let input = try RestoreInput.open(path, identity: identity, passphrase: passphrase, environment: environment)
        defer { input.removeScratch() }
        var outcome = Outcome(path: input.origin, database: input.manifest?.database)
        if input.scratch != nil {
            outcome.checks.append("age ciphertext matches the manifest; decrypted with " + (input.manifest?.encryption?.passphrase == true ? "the passphrase" : identity ?? ""))
        }
        if let manifest = input.manifest {
            // The sha256 against the manifest (the same check restore makes).
            outcome.checks.append(try input.check { _ in throw PGKeepError(.backup, "unreachable") })
            if manifest.format == .globals { outcome.database = BackupName.globalsDatabase }
        }
        outcome.checks.append(try readToTheEnd(input))
        if drill != nil {
            if input.manifest?.format == .globals {
                outcome.checks.append("no drill for globals (roles and tablespaces are cluster-wide)")
            } else {
                try runDrill(input, into: &outcome)
            }
        }
        return outcome
    }

    /// The whole backup, read as its restore would read it.
    func readToTheEnd(_ input: RestoreInput) throws -> String {
        let what = input.origin
        func damaged(_ reason: String) -> PGKeepError {
            PGKeepError(.backup, "\(what) is damaged: \(reason)",
                        hint: "this backup cannot be restored; keep an earlier one (pgkeep pin) and take a new backup")
        }
        switch input.kind {
        case .encrypted:
            throw PGKeepError(.usage, "\(what) is encrypted with age: give --identity FILE to verify it")
        case .custom, .tar, .directory:
            let command = Command(executable: try tools.path(of: "pg_restore"), arguments: ["--file=/dev/null", input.path], environment: environment)
            let (_, result) = try ChildProcess.capture(command)
            guard result.succeeded else { throw damaged("pg_restore cannot read it to the end: \(result.stderrTail(lines: 3))") }
            return "pg_restore read every entry and data block"
        case .customGzip:
            let command = Command(executable: try tools.path(of: "pg_restore"), arguments: ["--file=/dev/null"], environment: environment)
            let child = ChildProcess(command, stdin: .pipe)
            try child.start()
            var feeding = true
            do {
                try input.decompress { chunk in
                    if feeding { feeding = FileSystem.writeUntilClosed(child.stdinDescriptor, chunk) }
                    return true  // keep inflating: the gzip CRC and length are checked at the end
                }
            } catch let error as PGKeepError {
                child.closeStdin()
                child.terminate(grace: 1)
                throw damaged(error.message)
            }
            child.closeStdin()
            let result = child.wait()
            guard result.succeeded, feeding else { throw damaged("pg_restore cannot read it to the end: \(result.stderrTail(lines: 3))") }
            return "gzip stream complete and pg_restore read every entry and data block"
        case .plainGzip, .plain:
            var tail: [UInt8] = []
            do {
                try input.decompress { chunk in
                    tail.append(contentsOf: chunk.suffix(256))
                    if tail.count > 256 { tail.removeFirst(tail.count - 256) }
                    return true
                }
                try Verifier.checkSQLTrailer(tail, path: input.origin)
            } catch let error as PGKeepError {
                throw damaged(error.message.replacingOccurrences(of: "verification failed: ", with: ""))
            }
            return (input.kind == .plainGzip ? "gzip stream complete, " : "") + "SQL script ends with pg_dump's \"dump complete\" line"
        }
    }

    /// Restores into `pgkeep_drill_<hex>` (created from template0), compares counts, drops it.
    func runDrill(_ input: RestoreInput, into outcome: inout Outcome) throws {
        guard let spec = drill else { return }
        let scratch = "pgkeep_drill_" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        outcome.drillDatabase = scratch
        let endpoint = try LocalRestoreEndpoint(spec: spec, tools: tools, environment: environment)
        let dropSQL = "DROP DATABASE IF EXISTS \(SQL.identifier(scratch))"
        func drop() {
            for db in ["postgres", "template1"] {
                if (try? PostgresConnection(spec: spec, database: db).query(dropSQL)) != nil { return }
            }
        }
        // Ctrl-C during the drill drops the scratch database too.
        let token = Cancellation.shared.register(cleanup: drop)
        defer {
            Cancellation.shared.unregister(token)
            drop()
        }
        var options = RestoreOptions()
        options.create = true
        options.yes = true
        options.verify = input.manifest?.rowCounts != nil
        let job = RestoreJob(input: input, options: options, database: scratch, endpoint: endpoint)
        onStatus?("drill: restoring \(input.origin) into \(spec.displayURI(database: scratch))")
        let result: RestoreResult
        do {
            result = try job.run()
        } catch let error as PGKeepError {
            throw PGKeepError(error.kind, "restore drill of \(input.origin) failed: \(error.message)", command: error.command,
                              stderrTail: error.stderrTail, hint: error.hint ?? "this backup does not restore; keep an earlier one and take a new backup")
        }
        guard result.mismatches.isEmpty else {
            let shown = result.mismatches.prefix(5).map { "\($0.table): \($0.expected) in the manifest, \($0.found.map(String.init) ?? "missing") restored" }
            throw PGKeepError(.backup, "restore drill of \(input.origin): row counts differ from the manifest: " + shown.joined(separator: "; "))
        }
        outcome.drillRows = result.rowCounts.values.reduce(0, +)
        outcome.drillTables = result.rowCounts.count
        outcome.checks.append("restore drill: \(result.rowCounts.count) tables, \(outcome.drillRows!) rows"
                              + (options.verify ? ", row counts match the manifest" : " (no row counts in the manifest to compare)")
                              + "; scratch database dropped")
    }
}
