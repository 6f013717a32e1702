import Foundation

/// Restores a backup: the backup is checked before the target is touched, the target's state is
/// checked against what the restore would do, and the restore stops at the first error, in one
/// transaction unless --jobs asks for parallelism, so a failed restore leaves the target as it was.
public final class RestoreJob {
    public let input: RestoreInput
    public let options: RestoreOptions
    public let target: RestoreTarget
    public let tools: PostgresTools
    private let env: ChildEnvironment
    /// Asks the user to confirm a destructive restore (nil when stdin is not a terminal).
    public var confirm: ((String) -> Bool)?
    /// Progress messages for the user (stderr).
    public var onStatus: ((String) -> Void)?

    public init(input: RestoreInput, options: RestoreOptions, spec: ConnectionSpec, database: String,
                tools: PostgresTools, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.input = input
        self.options = options
        self.target = RestoreTarget(spec: spec, database: database)
        self.tools = tools
        self.env = try ChildEnvironment(spec: spec, base: environment)
    }

    deinit { env.remove() }

    public func run() throws -> RestoreResult {
        let started = Date()
        try options.validate(for: input.kind)
        if ["template0", "template1"].contains(target.database) {
            throw PGKeepError(.usage, "refusing to restore into \(target.database): it is a template every new database is copied from")
        }
        if options.verify && input.manifest?.rowCounts == nil {
            throw PGKeepError(.usage, "--verify needs row counts in the manifest, and \(input.path) has none",
                              hint: "take backups with pgkeep backup --row-counts")
        }
        // 1. The backup, before anything else.
        let checked = try input.check { path in try self.pgRestore(["--list"] + (path.map { [$0] } ?? [])) }
        onStatus?("checked \(input.path): \(checked)")

        // 2. The target.
        var created = false
        if try !target.exists() {
            guard options.create else {
                throw PGKeepError(.preflight, "database \"\(target.database)\" does not exist on \(target.spec.displayURI(database: target.database)); add --create to create it (UTF8, from template0)")
            }
            try target.create()
            created = true
            onStatus?("created database \"\(target.database)\"")
        }
        do {
            return try restore(into: created, started: started, checked: checked)
        } catch {
            if created {
                // It did not exist before: leave the server as it was.
                if let c = try? PostgresConnection(spec: target.spec, database: "postgres") {
                    _ = try? c.query("DROP DATABASE IF EXISTS \(c.identifier(target.database))")
                }
            }
            throw error
        }
    }

    private func restore(into created: Bool, started: Date, checked: String) throws -> RestoreResult {
        let before = try RestoreTarget.userTables(try target.connect())
        let conflicts = conflicting(before)
        if !conflicts.isEmpty && !options.clean {
            let shown = conflicts.prefix(5).joined(separator: ", ") + (conflicts.count > 5 ? ", ..." : "")
            throw PGKeepError(.usage, "database \"\(target.database)\" already has \(conflicts.count) of the tables this restore writes (\(shown)); nothing was changed",
                              hint: "add --clean to drop the archive's objects first, or restore into a new database with --create")
        }
        if options.clean {
            let question = "This drops and recreates the backup's objects in database \"\(target.database)\" (\(conflicts.count) existing tables affected)."
            if !options.yes {
                guard let confirm else {
                    throw PGKeepError(.usage, "a restore with --clean replaces objects in \"\(target.database)\"; without a terminal to confirm, add --yes")
                }
                guard confirm(question) else { throw PGKeepError(.usage, "not confirmed; nothing was changed") }
            }
        }

        var listFile: String?
        var scratch: String?
        defer { if let scratch { FileSystem.removeTree(scratch) } }
        if !options.tables.isEmpty {
            let dir = try privateScratchDirectory()
            scratch = dir
            let selection = try selectTables()
            let path = dir + "/use.list"
            try FileSystem.writePrivateFile(path, data: Data((selection.map(\.line).joined(separator: "\n") + "\n").utf8))
            listFile = path
            onStatus?("restoring \(selection.count) archive entries for \(options.tables.joined(separator: ", "))")
        }

        // 3. The restore.
        let command: Command
        var feedGzip = false
        switch input.kind {
        case .plain, .plainGzip:
            command = Command(executable: try tools.path(of: "psql"),
                              arguments: ["--dbname=" + target.spec.conninfo(overridingDatabase: target.database), "--no-password",
                                          "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction",
                                          "--file=" + (input.kind == .plain ? input.path : "-")],
                              environment: env.environment)
            feedGzip = input.kind == .plainGzip
        default:
            var args = ["--dbname=" + target.spec.conninfo(overridingDatabase: target.database), "--no-password"] + options.pgRestoreArguments
            if let listFile { args.append("--use-list=\(listFile)") }
            if input.kind == .customGzip {
                if options.jobs > 1 {
                    // Parallel restore needs a seekable file: decompress into a private scratch file.
                    let dir = try scratch ?? privateScratchDirectory()
                    scratch = dir
                    let plain = dir + "/archive.dump"
                    try decompress(to: plain)
                    args.append(plain)
                } else {
                    feedGzip = true
                }
            } else {
                args.append(input.path)
            }
            command = Command(executable: try tools.path(of: "pg_restore"), arguments: args, environment: env.environment)
        }
        let result: ProcessResult
        if options.clean && options.singleTransaction && input.kind.isArchive {
            result = try cleanRestore(restoreCommand: command, gzip: feedGzip ? input.path : nil)
        } else {
            result = try runFeeding(command, gzip: feedGzip ? input.path : nil)
        }
        guard result.succeeded else { throw failure(result) }

        // 4. The result.
        let connection = try target.connect()
        let restoredTables = try restoredTableNames(after: RestoreTarget.userTables(connection))
        let counts = try RestoreTarget.rowCounts(connection, tables: restoredTables)
        var mismatches: [(String, Int, Int?)] = []
        if options.verify, let expected = input.manifest?.rowCounts {
            let scope = options.isPartial ? expected.filter { restoredTables.contains($0.key) } : expected
            for (table, n) in scope.sorted(by: { $0.key < $1.key }) where counts[table] != (options.schemaOnly ? 0 : n) {
                mismatches.append((table, options.schemaOnly ? 0 : n, counts[table]))
            }
        }
        return RestoreResult(target: target.database, input: input, checked: checked, rowCounts: counts,
                             mismatches: mismatches, duration: Date().timeIntervalSince(started))
    }

    /// `--clean` in one transaction: pg_restore writes the script (DROPs, then the objects and the
    /// data), `CleanFilter` makes the DROPs tolerant, psql runs it all as one transaction.
    private func cleanRestore(restoreCommand: Command, gzip: String?) throws -> ProcessResult {
        var scriptArgs = restoreCommand.arguments.filter {
            !$0.hasPrefix("--dbname=") && $0 != "--no-password" && $0 != "--exit-on-error" && $0 != "--single-transaction"
        }
        scriptArgs.insert("--file=-", at: 0)
        let script = ChildProcess(Command(executable: restoreCommand.executable, arguments: scriptArgs, environment: env.environment),
                                  stdin: gzip == nil ? .null : .pipe, stdout: .pipe)
        let psql = ChildProcess(Command(executable: try tools.path(of: "psql"),
                                        arguments: ["--dbname=" + target.spec.conninfo(overridingDatabase: target.database), "--no-password",
                                                    "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction", "--file=-"],
                                        environment: env.environment),
                                stdin: .pipe, stdout: .null)
        try script.start()
        try psql.start()
        let feeder = Locked<Error?>(nil)
        let fed = DispatchSemaphore(value: 0)
        if let gzip {
            Thread { [self] in
                do { try feed(script, from: gzip) } catch { feeder.withLock { $0 = error } }
                fed.signal()
            }.start()
        } else {
            fed.signal()
        }
        var filter = CleanFilter()
        let from = script.stdoutDescriptor, to = psql.stdinDescriptor
        var psqlGone = false
        func send(_ data: Data) {
            guard !psqlGone else { return }
            data.withUnsafeBytes { buf in
                var offset = 0
                while offset < buf.count {
                    let n = write(to, buf.baseAddress! + offset, buf.count - offset)
                    if n < 0 { if errno == EINTR { continue }; psqlGone = true; return }
                    offset += n
                }
            }
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n > 0 {
                send(buffer.withUnsafeBytes { filter.process(UnsafeRawBufferPointer(rebasing: $0[0..<n])) })
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        send(filter.finish())
        psql.closeStdin()
        fed.wait()
        let scriptResult = script.wait()
        let psqlResult = psql.wait()
        if let error = feeder.current { throw error }
        guard scriptResult.succeeded else { return scriptResult }
        return psqlResult
    }

    /// Existing tables the restore would write into.
    func conflicting(_ existing: [String]) -> [String] {
        if options.dataOnly { return [] }
        if !options.tables.isEmpty {
            return existing.filter { t in options.tables.contains { name in matches(t, name) } }
        }
        if !options.schemas.isEmpty {
            return existing.filter { t in options.schemas.contains { t.hasPrefix(TableSelection.quoteIdent($0) + ".") } }
        }
        return existing
    }

    /// Tables this restore wrote, for the row-count report.
    func restoredTableNames(after: [String]) throws -> [String] {
        if !options.tables.isEmpty { return after.filter { t in options.tables.contains { matches(t, $0) } } }
        if !options.schemas.isEmpty { return after.filter { t in options.schemas.contains { t.hasPrefix(TableSelection.quoteIdent($0) + ".") } } }
        return after
    }

    /// `qualified` is "schema.table" as format('%I.%I') writes it; `name` is "table" or "schema.table".
    func matches(_ qualified: String, _ name: String) -> Bool {
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        let wanted = parts.count == 2
            ? TableSelection.quoteIdent(parts[0]) + "." + TableSelection.quoteIdent(parts[1])
            : TableSelection.quoteIdent(name)
        return parts.count == 2 ? qualified == wanted : qualified.hasSuffix("." + wanted)
    }

    private func selectTables() throws -> [TOCEntry] {
        let (listing, r1) = try capture(pgRestore(["--list"] + archiveArgument()), gzip: gzipInput)
        guard r1.succeeded else { throw r1.failure("pg_restore --list failed") }
        let (verbose, r2) = try capture(pgRestore(["--schema-only", "--verbose", "--file=-"] + archiveArgument()), gzip: gzipInput)
        guard r2.succeeded else { throw r2.failure("pg_restore could not print the archive's definitions") }
        var entries = TableSelection.parseList(String(decoding: listing, as: UTF8.self))
        let deps = TableSelection.parseDependencies(String(decoding: verbose, as: UTF8.self))
        for i in entries.indices { entries[i].dependencies = deps[entries[i].id] ?? [] }
        let connection = try target.connect()
        return try TableSelection.select(entries: entries, tables: options.tables) { entry in
            guard let sql = TableSelection.existsQuery(entry, literal: connection.literal) else { return false }
            return try !connection.query(sql).isEmpty
        }
    }

    private var gzipInput: String? { input.kind == .customGzip ? input.path : nil }
    private func archiveArgument() -> [String] { input.kind == .customGzip ? [] : [input.path] }

    private func pgRestore(_ args: [String]) throws -> Command {
        Command(executable: try tools.path(of: "pg_restore"), arguments: args, environment: env.environment)
    }

    private func privateScratchDirectory() throws -> String {
        let template = (NSTemporaryDirectory() as NSString).appendingPathComponent("pgkeep-restore.XXXXXX")
        var buf = Array(template.utf8CString)
        guard let made = mkdtemp(&buf) else { throw PGKeepError(.backup, "cannot create a scratch directory: \(errnoText())") }
        let dir = String(cString: made)
        _ = Cancellation.shared.register(path: dir)
        return dir
    }

    private func decompress(to path: String) throws {
        let out = try FileSystem.createPrivateFile(path)
        defer { close(out) }
        let fd = Foundation.open(input.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PGKeepError(.backup, "cannot open \(input.path): \(errnoText())") }
        defer { close(fd) }
        _ = try GzipReader.decompress(fd: fd, path: input.path) { chunk in
            try FileSystem.writeAll(out, chunk, path: path)
            return true
        }
    }

    /// Runs `command`, streaming the decompressed `gzip` file into its stdin when given.
    private func runFeeding(_ command: Command, gzip: String?) throws -> ProcessResult {
        let child = ChildProcess(command, stdin: gzip == nil ? .null : .pipe, stdout: .null)
        try child.start()
        if let gzip { try feed(child, from: gzip) }
        return child.wait()
    }

    private func capture(_ command: Command, gzip: String?) throws -> (Data, ProcessResult) {
        let child = ChildProcess(command, stdin: gzip == nil ? .null : .pipe, stdout: .pipe)
        try child.start()
        let out = Locked(Data())
        let done = DispatchSemaphore(value: 0)
        let fd = child.stdoutDescriptor
        Thread {
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 { out.withLock { $0.append(contentsOf: chunk[0..<n]) } } else if n < 0 && errno == EINTR { continue } else { break }
            }
            done.signal()
        }.start()
        if let gzip { try feed(child, from: gzip) }
        done.wait()
        return (out.current, child.wait())
    }

    /// Decompresses `path` into the child's stdin; stops quietly if the child stops reading.
    private func feed(_ child: ChildProcess, from path: String) throws {
        defer { child.closeStdin() }
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PGKeepError(.backup, "cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        let stdin = child.stdinDescriptor
        _ = try GzipReader.decompress(fd: fd, path: path) { chunk in
            var offset = 0
            while offset < chunk.count {
                let n = write(stdin, chunk.baseAddress! + offset, chunk.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false  // the reader is gone; its exit status tells why
                }
                offset += n
            }
            return true
        }
    }

    /// The error for a failed restore: how many errors, the first one, and the target's state.
    private func failure(_ result: ProcessResult) -> PGKeepError {
        let errors = result.stderr.split(separator: "\n").filter { $0.contains("ERROR:") || $0.contains("error:") }
        let first = errors.first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? result.stderrTail(lines: 1)
        let state = options.singleTransaction
            ? "the restore ran in one transaction, so the target was left as it was"
            : "with --jobs the restore is not one transaction: objects restored before the error remain"
        let tool = (result.command.executable as NSString).lastPathComponent
        return PGKeepError(.backup, "restore into \"\(target.database)\" failed: \(tool) \(result.termination) after \(errors.count) error\(errors.count == 1 ? "" : "s"); first: \(first); \(state)",
                           command: result.command.description, stderrTail: result.stderrTail(lines: 6),
                           hint: first.contains("role") ? "the archive names a role the target server lacks: create it, or restore with --no-owner --no-privileges" : nil)
    }
}
