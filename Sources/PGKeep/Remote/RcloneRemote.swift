import Crypto
import Foundation

/// Object storage (S3 and every S3-compatible store, B2, GCS, Azure, SFTP) through `rclone`
/// (Debian package `rclone`), driven as a subprocess like pg_dump and configured by rclone's own
/// config file or its `RCLONE_CONFIG_*` variables. The target is `REMOTE:bucket/prefix`; backups
/// are laid out under it as in a local backup directory: `<folder>/<file>` and
/// `<folder>/<file>.manifest.json`.
///
/// Upload order is the commit order: the data first, checked (size and MD5 against the local
/// file), then the manifest, checked the same way. A remote backup exists only once its manifest
/// does, so an interrupted upload never looks like a backup; deletion removes the manifest first.
public final class RcloneRemote: RemoteStore, Sendable {
    /// `REMOTE:bucket/prefix`, without a trailing slash.
    public let target: String
    let rclone: String
    let environment: [String: String]

    public init(target given: String, environment: [String: String]) throws {
        var t = given
        while t.hasSuffix("/") { t.removeLast() }
        guard let colon = t.firstIndex(of: ":"), colon != t.startIndex, !t.hasPrefix("/") else {
            throw PGKeepError(
                .usage,
                "--remote \(given): expected REMOTE:bucket/prefix, with REMOTE an rclone remote (rclone config, or "
                    + "RCLONE_CONFIG_<NAME>_TYPE=s3 and friends)"
            )
        }
        target = t
        guard let found = Command.find("rclone", environment: environment) else {
            throw PGKeepError(
                .preflight, "rclone not found on PATH (needed for --remote)", hint: "install it: apt-get install rclone"
            )
        }
        rclone = found
        self.environment = environment
    }

    /// `target/relative`.
    public func url(_ relative: String) -> String { relative.isEmpty ? target : target + "/" + relative }

    /// Runs rclone; a failure is an error naming the command and rclone's last lines.
    /// `tolerating` lists exit codes that are an answer rather than a failure (3: directory not found).
    /// `bestEffort`: one attempt, for clean-ups after a failure (the store may be gone).
    @discardableResult
    func run(_ arguments: [String], _ what: String, tolerating: Set<Int32> = [], bestEffort: Bool = false) throws
        -> Data
    {
        // Retries are rclone's own: 3 attempts of the whole operation, 3 of each low-level request,
        // and a store that does not answer within 15 s (connect) or 60 s (idle) is an error.
        let retries =
            bestEffort
            ? ["--retries", "1", "--low-level-retries", "1"] : ["--retries", "3", "--low-level-retries", "3"]
        let command = Command(
            executable: rclone, arguments: arguments + retries + ["--contimeout", "15s", "--timeout", "60s"],
            environment: environment)
        let (out, result) = try ChildProcess.capture(command)
        if case .exited(let code) = result.termination, tolerating.contains(code) { return Data("[]".utf8) }
        guard result.succeeded else {
            throw PGKeepError(
                .backup, "\(what) failed: rclone \(result.termination)", command: command.description,
                stderrTail: result.stderrTail(lines: 4),
                hint:
                    "check the remote with: rclone lsd \(target.split(separator: ":").first.map { "\($0):" } ?? target)"
            )
        }
        return out
    }

    /// One object: its size and MD5 when the store reports one.
    public struct Object: Sendable, Equatable {
        public var path: String
        public var size: Int64
        public var md5: String?
    }

    /// Every object under `relative` (recursively), by path relative to it.
    public func objects(under relative: String = "") throws -> [Object] {
        // An empty prefix is "directory not found" (exit 3) to rclone: no objects.
        let data = try run(
            ["lsjson", "-R", "--files-only", "--hash", "--hash-type", "md5", url(relative)], "listing \(url(relative))",
            tolerating: [3])
        struct Entry: Decodable {
            var path: String
            var size: Int64
            var hashes: [String: String]?
            enum CodingKeys: String, CodingKey {
                case path = "Path"
                case size = "Size"
                case hashes = "Hashes"
            }
        }
        let entries: [Entry]
        do {
            entries = try JSONDecoder().decode([Entry].self, from: data)
        } catch {
            // Not "no backups": an answer that cannot be read is an error, never an empty store.
            throw PGKeepError(
                .backup, "listing \(url(relative)) failed: rclone lsjson printed what is not its JSON listing",
                command: "\(rclone) lsjson -R --files-only --hash --hash-type md5 \(url(relative))",
                stderrTail: String(decoding: data.prefix(300), as: UTF8.self),
                hint: "run that command by hand; an rclone older than 1.50 or a wrapper printing text breaks it")
        }
        return entries.map { Object(path: $0.path, size: $0.size, md5: $0.hashes?["md5"]) }
    }

    /// Copies a local file to `relative` and checks the remote copy's size and MD5.
    func put(file local: String, as relative: String) throws {
        try run(["copyto", local, url(relative)], "uploading \(local) to \(url(relative))")
        let (size, md5) = try Self.sizeAndMD5(of: local)
        let found = try objects(under: relative).first
        guard let found, found.size == size else {
            throw PGKeepError(
                .backup,
                "the remote copy \(url(relative)) has "
                    + "\(found.map { "\($0.size) bytes" } ?? "gone missing"), expected \(size) bytes"
            )
        }
        if let remoteMD5 = found.md5, !remoteMD5.isEmpty, remoteMD5 != md5 {
            throw PGKeepError(.backup, "the remote copy \(url(relative)) has MD5 \(remoteMD5), the local file \(md5)")
        }
    }

    /// Uploads a recorded backup: data (file or directory), checked, then its manifest, checked.
    /// On failure the partial data is removed (best effort) and no manifest is there.
    public func upload(_ record: BackupRecord) throws -> String {
        let folder = (FileSystem.parent(of: record.path) as NSString).lastPathComponent
        let dataRel = folder + "/" + (record.path as NSString).lastPathComponent
        do {
            if record.manifest.format == .directory {
                try run(["copy", record.path, url(dataRel)], "uploading \(record.path) to \(url(dataRel))")
                // Hash by hash, file by file, against what is here.
                try run(["check", record.path, url(dataRel), "--one-way"], "checking the remote copy \(url(dataRel))")
            } else {
                try put(file: record.path, as: dataRel)
            }
            try put(file: record.manifestPath, as: dataRel + BackupName.manifestSuffix)
        } catch {
            _ = try? run(
                ["deletefile", url(dataRel + BackupName.manifestSuffix)], "removing a partial manifest",
                bestEffort: true)
            if record.manifest.format == .directory {
                _ = try? run(["purge", url(dataRel)], "removing a partial upload", bestEffort: true)
            } else {
                _ = try? run(["deletefile", url(dataRel)], "removing a partial upload", bestEffort: true)
            }
            throw error
        }
        return url(dataRel)
    }

    /// Downloads `relative` (a file) to `local`.
    public func get(_ relative: String, to local: String) throws {
        try run(["copyto", url(relative), local], "downloading \(url(relative))")
    }

    /// Downloads a directory backup.
    public func getDirectory(_ relative: String, to local: String) throws {
        try run(["copy", url(relative), local], "downloading \(url(relative))")
    }

    /// Deletes a backup: the manifest first (from then on it is not a backup), then the data.
    public func delete(_ backup: CatalogScan.Backup) throws {
        try run(["deletefile", backup.manifestPath], "deleting \(backup.manifestPath)")
        if backup.name.format == .directory {
            try run(["purge", backup.dataPath], "deleting \(backup.dataPath)")
        } else {
            try run(["deletefile", backup.dataPath], "deleting \(backup.dataPath)")
        }
    }

    static func sizeAndMD5(of path: String) throws -> (Int64, String) {
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PGKeepError(.backup, "cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        var md5 = Insecure.MD5()
        var size: Int64 = 0
        _ = try hashChunks(of: fd, path: path) { chunk in
            md5.update(bufferPointer: chunk)
            size += Int64(chunk.count)
        }
        return (size, md5.finalize().hexString)
    }
}

extension RcloneRemote {
    /// The backups under the target, like `CatalogScan.scan` for a directory: only objects with
    /// pgkeep's names count, and a data object only with its manifest. The manifests are fetched
    /// in one `rclone copy` into a private scratch directory. Paths in the result are rclone URLs.
    public func scan(database: String? = nil) throws -> CatalogScan {
        let all = try objects()
        var files = Set<String>()
        var directories = Set<String>()
        for o in all {
            let parts = o.path.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 2 { files.insert(o.path) }
            if parts.count >= 3, parts[1].hasSuffix(".dir") { directories.insert(parts[0] + "/" + parts[1]) }
        }
        var scan = CatalogScan()
        var candidates: [(BackupName, String)] = []
        for path in files.union(directories) {
            let parts = path.split(separator: "/").map(String.init)
            guard parts.count == 2,
                let folderDatabase = BackupName.database(forFolder: parts[0])
                    ?? (parts[0] == BackupName.globalsDatabase ? parts[0] : nil),
                let name = BackupName.parse(fileName: parts[1], folder: (parts[0], folderDatabase))
            else { continue }
            if let database, name.database != database { continue }
            guard files.contains(path + BackupName.manifestSuffix) else {
                scan.orphans.append(url(path))
                continue
            }
            candidates.append((name, path))
        }
        guard !candidates.isEmpty else { return scan }
        let scratch = try makeScratchDirectory()
        defer { FileSystem.removeTree(scratch) }
        try run(
            ["copy", target, scratch, "--include", "*" + BackupName.manifestSuffix],
            "downloading the manifests from \(target)")
        for (name, path) in candidates {
            guard let summary = ManifestSummary.load(path: scratch + "/" + path + BackupName.manifestSuffix),
                summary.file == name.fileName
            else {
                scan.broken.append(url(path + BackupName.manifestSuffix))
                continue
            }
            scan.backups.append(
                CatalogScan.Backup(
                    name: name, dataPath: url(path), manifestPath: url(path + BackupName.manifestSuffix),
                    manifest: summary))
        }
        scan.backups.sort(by: CatalogScan.Backup.newerFirst)
        return scan
    }

    /// A remote backup's manifest, read without a local copy.
    public func manifest(of backup: CatalogScan.Backup) throws -> Manifest {
        let data = try run(["cat", backup.manifestPath], "reading \(backup.manifestPath)")
        do { return try Manifest.decode(data) } catch {
            throw PGKeepError(.backup, "the remote manifest \(backup.manifestPath) is not valid: \(error)")
        }
    }

    /// `rclone cat URL`: the backup's bytes as they download.
    public func open(_ backup: CatalogScan.Backup) throws -> any ByteStream {
        let child = ChildProcess(
            Command(
                executable: rclone,
                arguments: [
                    "cat", backup.dataPath, "--retries", "3", "--low-level-retries", "3", "--contimeout", "15s",
                    "--timeout", "60s",
                ],
                environment: environment), stdout: .pipe)
        try child.start()
        return RcloneDownload(child: child, url: backup.dataPath)
    }

    /// Downloads one remote backup (data and manifest) into a private scratch directory and
    /// returns the local manifest path and the directory to remove afterwards.
    public func fetch(_ backup: CatalogScan.Backup) throws -> (manifest: String, scratch: String) {
        let scratch = try makeScratchDirectory()
        do {
            let rel = { (u: String) in String(u.dropFirst(self.target.count + 1)) }
            let local = scratch + "/" + backup.name.fileName
            try get(rel(backup.manifestPath), to: local + BackupName.manifestSuffix)
            if backup.name.format == .directory {
                try getDirectory(rel(backup.dataPath), to: local)
            } else {
                try get(rel(backup.dataPath), to: local)
            }
            return (local + BackupName.manifestSuffix, scratch)
        } catch {
            FileSystem.removeTree(scratch)
            throw error
        }
    }
}
