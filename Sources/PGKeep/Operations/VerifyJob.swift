import Foundation

/// `pgkeep verify`: checks backups again long after they were taken. Every backup is read to its
/// end: the sha256 against its manifest, then the whole stream (gzip CRC and length or zstd checksums, and for
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
    /// Of the failures `verifyEach` counted, the drills that could not run for a reason outside
    /// the backup (exit 4 when they are all there is).
    public private(set) var uncheckedFailures = 0

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
        /// The rows the drill restored; nil without a drill.
        public var drillRows: Int?
    }

    public func verify(_ path: String) throws -> Outcome {
        let input = try RestoreInput.open(path, identity: identity, passphrase: passphrase, environment: environment)
        defer { input.removeScratch() }
        var outcome = Outcome(path: input.origin, database: input.manifest?.database)
        if input.scratch != nil {
            outcome.checks.append(
                "age ciphertext matches the manifest; decrypted with "
                    + (input.manifest?.encryption?.passphrase == true ? "the passphrase" : identity ?? ""))
        }
        if let manifest = input.manifest {
            // The sha256 against the manifest (the same check restore makes).
            outcome.checks.append(try input.checkAgainst(manifest))
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

    /// The whole backup, read as its restore would read it; archives through
    /// `pg_restore --file=/dev/null`, which reads every data block, not only the table of contents.
    func readToTheEnd(_ input: RestoreInput) throws -> String {
        let pgRestore = try tools.path(of: "pg_restore")
        do {
            return try input.readWhole(
                reader: { path in
                    Command(
                        executable: pgRestore, arguments: ["--file=/dev/null"] + (path.map { [$0] } ?? []),
                        environment: self.environment)
                }, readerDoes: "pg_restore read every entry and data block")
        } catch let damage as ContentDamage {
            throw PGKeepError(
                .backup, "\(input.origin) is damaged: \(damage.reason)",
                hint: "this backup cannot be restored; keep an earlier one (pgkeep pin) and take a new backup")
        }
    }

    /// Restores into `pgkeep_drill_<hex>` (created from template0), compares counts, drops it.
    func runDrill(_ input: RestoreInput, into outcome: inout Outcome) throws {
        guard let spec = drill?.writing() else { return }
        let scratch = DrillName.make()
        let endpoint = try LocalRestoreEndpoint(spec: spec, tools: tools, environment: environment)
        // A drill killed before it could drop its database (SIGKILL) leaves it: the next one does.
        for stale in (try? DrillName.stale(on: spec)) ?? [] {
            onStatus?("dropping \(stale), left by an earlier drill that was killed")
            DrillName.drop(stale, on: spec)
        }
        func drop() { DrillName.drop(scratch, on: spec) }
        // Ctrl-C during the drill drops the scratch database too.
        let token = Cancellation.shared.register(cleanup: drop, stage: .databases)
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
        let drillStarted = Date()
        let result: RestoreResult
        do {
            result = try Self.drillResult(job, input)
        } catch let error as PGKeepError where error.kind != .unchecked {
            DrillRecord.write(input, started: drillStarted, result: nil, error: error.message)
            throw error
        }
        DrillRecord.write(input, started: drillStarted, result: result, error: nil)
        outcome.drillRows = result.rowCounts.values.reduce(0, +)
        let compared =
            input.manifest?.fingerprint != nil
            ? ", every table's rows and contents match the fingerprint"
            : options.verify ? ", row counts match the manifest" : " (no row counts in the manifest to compare)"
        outcome.checks.append(
            "restore drill: \(result.rowCounts.count) tables, \(outcome.drillRows!) rows" + compared
                + "; scratch database dropped")
    }
}

extension VerifyJob {
    /// What `verifyEach` found for one backup.
    public enum Verdict {
        case ok(Outcome)
        case failed(path: String, error: PGKeepError)
    }

    /// Verifies each backup in turn; a failed one does not stop the others (but an interrupted
    /// run stops at once). Returns how many failed.
    public func verifyEach(_ paths: [String], report: (Verdict) -> Void) throws -> Int {
        var failures = 0
        for path in paths {
            do {
                report(.ok(try verify(path)))
            } catch let error as PGKeepError {
                if Cancellation.shared.signalReceived != nil { throw error }
                failures += 1
                if error.kind == .unchecked { uncheckedFailures += 1 }
                report(.failed(path: path, error: error))
            }
        }
        return failures
    }

    /// The backups `verify --all` reads: every one in `directory` (or of one database), with the
    /// directory's lock held shared, so that a prune cannot delete what is being verified while
    /// other readers may run. Named backups: the lock of the first one's directory.
    public static func select(
        all directory: String?, database: String?, paths: [String]
    ) throws -> (paths: [String], lock: DirectoryLock?) {
        guard let directory else {
            return (paths, try paths.first.flatMap { try DirectoryLock.forBackup(at: $0, shared: true) })
        }
        let lock = try DirectoryLock(directory: directory, shared: true)
        let found = try CatalogScan.scan(directory, database: database).backups.map(\.manifestPath)
        if found.isEmpty {
            throw PGKeepError(.usage, "no backups in \(directory)" + (database.map { " for database \"\($0)\"" } ?? ""))
        }
        return (found, lock)
    }
}

/// Scratch databases of restore drills: `pgkeep_drill_<host>_<pid>_<random>`, so that one left by
/// a drill that was killed (its pgkeep on this host no longer running) is known and dropped.
enum DrillName {
    static let prefix = "pgkeep_drill_"

    /// This host, as 8 hex digits (FNV-1a of its name).
    static var host: String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        var hash: UInt32 = 2_166_136_261
        for byte in buffer.prefix(while: { $0 != 0 }) {
            hash = (hash ^ UInt32(UInt8(bitPattern: byte))) &* 16_777_619
        }
        return String(format: "%08x", hash)
    }

    static func make() -> String {
        prefix + host + "_\(getpid())_" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }

    /// Whether `name` is a drill of this host whose pgkeep is gone.
    static func isStale(_ name: String) -> Bool {
        let parts = name.dropFirst(prefix.count).split(separator: "_")
        guard name.hasPrefix(prefix), parts.count == 3, parts[0] == host, let pid = Int32(parts[1]) else {
            return false
        }
        return pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH
    }

    static func stale(on spec: ConnectionSpec) throws -> [String] {
        let connection = try PostgresConnection(spec: spec, database: "postgres")
        return try connection.query(
            "SELECT datname FROM pg_catalog.pg_database WHERE datname LIKE 'pgkeep\\_drill\\_%'"
        )
        .compactMap { $0.first ?? nil }.filter(isStale)
    }

    static func drop(_ name: String, on spec: ConnectionSpec) {
        for db in ["postgres", "template1"] {
            guard let connection = try? PostgresConnection(spec: spec, database: db) else { continue }
            if DatabaseDrop.drop(name, patience: 0, run: { _ = try connection.query($0) }) == nil { return }
        }
    }
}

/// Why a drill failed for a reason outside the backup, if it did: the backup is then not blamed.
enum DrillFailure {
    /// What the server or the network said, matched in the error's message and the tool's stderr.
    static let causes: [(text: String, cause: String)] = [
        ("server closed the connection", "the connection to the drill server was lost"),
        ("connection to server", "the connection to the drill server was lost"),
        ("could not connect", "the drill server could not be reached"),
        ("cannot connect", "the drill server could not be reached"),
        ("terminating connection", "the drill server ended the session (a restart or a crash)"),
        ("the database system is", "the drill server was shutting down or starting up"),
        ("read-only transaction", "the drill server is read-only"),
        ("statement timeout", "a statement timeout on the drill server"),
        ("lock timeout", "a lock on the drill server"),
        ("gave up waiting", "a lock on the drill server"),
        ("No space left on device", "the drill server's disk is full"),
        ("out of memory", "the drill server ran out of memory"),
    ]

    static func outsideTheBackup(_ error: PGKeepError) -> String? {
        if error.kind == .preflight { return "the drill server could not be reached or checked" }
        if error.kind == .unchecked { return "the check after the drill's restore could not run" }
        let text = error.message + "\n" + (error.stderrTail ?? "")
        return causes.first { text.contains($0.text) }?.cause
    }
}
