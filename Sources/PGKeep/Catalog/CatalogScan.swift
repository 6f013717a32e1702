import Foundation

/// Everything pgkeep finds in a backup directory, sorted into what it made and what it did not.
/// Only folders and files with pgkeep's names count; symlinks are never followed (a symlinked
/// folder or file is foreign); nothing outside the directory is looked at.
public struct CatalogScan: Sendable {
    /// A manifest renamed to this prefix is a backup being deleted (see PruneJob).
    public static let tombstonePrefix = ".pgkeep-deleting-"

    /// A backup as listing and pruning see it: its name, paths and the manifest fields they use.
    /// A class, so that sorting, grouping and reporting 100,000 of them moves one reference each,
    /// not their eight strings.
    public final class Backup: Sendable {
        public let name: BackupName
        public let dataPath: String
        public let manifest: ManifestSummary
        /// Kept only where it is not `dataPath` and the manifest suffix (100,000 strings fewer).
        private let otherManifestPath: String?

        public var manifestPath: String { otherManifestPath ?? dataPath + BackupName.manifestSuffix }

        public init(name: BackupName, dataPath: String, manifestPath: String, manifest: ManifestSummary) {
            self.name = name
            self.dataPath = dataPath
            self.manifest = manifest
            let usual =
                manifestPath.count == dataPath.count + BackupName.manifestSuffix.count
                && manifestPath.hasPrefix(dataPath) && manifestPath.hasSuffix(BackupName.manifestSuffix)
            otherManifestPath = usual ? nil : manifestPath
        }

        /// The one order of backups, newest first: by time, within one second by sequence, then by
        /// path. Scans (local and remote) sort by it; retention and listings rely on it.
        public static func newerFirst(_ a: Backup, _ b: Backup) -> Bool {
            if a.name.time != b.name.time { return a.name.time > b.name.time }
            if a.name.sequence != b.name.sequence { return a.name.sequence > b.name.sequence }
            return a.dataPath > b.dataPath
        }
    }

    /// Backups: a data file (or directory) and the manifest that names it, newest first.
    public var backups: [Backup] = []
    /// Data files that pgkeep's own markers show it left behind (a prune interrupted between its
    /// two deletions, or a commit interrupted before its manifest), with those markers: never
    /// counted, and removed by prune.
    public var leftovers: [String] = []
    /// Data files with pgkeep names but no manifest and no marker: perhaps a copy someone made.
    /// Never counted, never deleted, only reported.
    public var orphans: [String] = []
    /// Manifests whose data file is missing or that cannot be read: reported, never counted.
    public var broken: [String] = []
    /// Temporary files of pgkeep runs (`.pgkeep-tmp-*`).
    public var temporary: [String] = []

    public init() {}

    /// Scans `directory` (only the folder of `database`, when given). With `cached`, a folder whose
    /// stat matches its summary (`CatalogCache`) is taken from the summary instead of its
    /// manifests, and the summaries of the folders read are written: for listings only (`list`,
    /// `prune --dry-run`, `status`), never for what deletes or restores.
    public static func scan(_ directory: String, database: String? = nil, cached: Bool = false) throws -> CatalogScan {
        guard let found = try folders(of: directory, database: database) else { return CatalogScan() }
        return scan(found, in: directory, cached: cached)
    }

    /// Names in a directory (readdir: Foundation's listing costs more than the rest of a scan).
    static func entries(of directory: String) -> [String] { typedEntries(of: directory).map(\.name) }

    /// Kinds of directory entries, from readdir's d_type (lstat only where the filesystem does not say).
    enum Kind { case file, directory, other }

    static func typedEntries(of directory: String) -> [(name: String, kind: Kind)] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var out: [(String, Kind)] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            var kind: Kind
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_REG): kind = .file
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_UNKNOWN):
                var st = stat()
                let mode = lstat(directory + "/" + name, &st) == 0 ? st.st_mode & S_IFMT : 0
                kind = mode == S_IFREG ? .file : (mode == S_IFDIR ? .directory : .other)
            default: kind = .other  // symlinks, sockets, devices: never pgkeep's
            }
            out.append((name, kind))
        }
        return out
    }

    mutating func add(folder: String, folderName: String, database: String) {
        var pending: [(BackupName, String, String, String)] = []
        defer { load(pending, folder: folder) }
        let known = (name: folderName, database: database)
        let typed = CatalogScan.typedEntries(of: folder)
        var kinds: [String: Kind] = [:]
        kinds.reserveCapacity(typed.count)
        for e in typed { kinds[e.name] = e.kind }
        // Data files a pgkeep marker names: a deletion tombstone, or a commit's temporary manifest.
        var marked = Set<String>()
        for (file, _) in typed where file.hasPrefix(".pgkeep-") && file.hasSuffix(BackupName.manifestSuffix) {
            let stem = String(file.dropLast(BackupName.manifestSuffix.count))
            if file.hasPrefix(CatalogScan.tombstonePrefix) {
                marked.insert(String(stem.dropFirst(CatalogScan.tombstonePrefix.count)))
            } else if file.hasPrefix(".pgkeep-tmp-"),
                let range = stem.range(
                    of: "-", options: [], range: stem.index(stem.startIndex, offsetBy: 12)..<stem.endIndex)
            {
                // .pgkeep-tmp-<pid>-<random>-<data name>.manifest.json
                let rest = stem[range.upperBound...]
                if let dash = rest.firstIndex(of: "-") { marked.insert(String(rest[rest.index(after: dash)...])) }
            }
        }
        for (file, kind) in typed {
            if file.hasPrefix(".pgkeep-tmp-") || file.hasPrefix(CatalogScan.tombstonePrefix) {
                if kind != .other { temporary.append(folder + "/" + file) }
                continue
            }
            if file.hasSuffix(BackupName.manifestSuffix) {
                let dataName = String(file.dropLast(BackupName.manifestSuffix.count))
                guard let name = BackupName.parse(fileName: dataName, folder: known) else { continue }
                guard kind == .file else { continue }
                guard let dataKind = kinds[dataName], dataKind != .other else {
                    broken.append(folder + "/" + file)
                    continue
                }
                pending.append((name, folder + "/" + dataName, folder + "/" + file, dataName))
            } else if kind != .other, kinds[file + BackupName.manifestSuffix] == nil,
                BackupName.parse(fileName: file, folder: known) != nil
            {
                // A data file without its manifest (a backup's data file is found through its manifest).
                if marked.contains(file) {
                    leftovers.append(folder + "/" + file)
                } else {
                    orphans.append(folder + "/" + file)
                }
            }
        }
    }
}

extension CatalogScan {
    /// Decodes the manifests on every core: a directory can hold 100,000 of them.
    private mutating func load(
        _ pending: [(name: BackupName, dataPath: String, manifestPath: String, dataName: String)], folder: String
    ) {
        // Opened relative to the folder: the kernel looks up one name per manifest, not the whole path.
        let folderFD = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        defer { if folderFD >= 0 { close(folderFD) } }
        let loaded = Locked([ManifestSummary?](repeating: nil, count: pending.count))
        DispatchQueue.concurrentPerform(iterations: pending.count) { i in
            let m =
                folderFD >= 0
                ? ManifestSummary.load(at: folderFD, pending[i].dataName + BackupName.manifestSuffix)
                : ManifestSummary.load(path: pending[i].manifestPath)
            loaded.withLock { $0[i] = m }
        }
        for (p, manifest) in zip(pending, loaded.current) {
            guard let manifest, manifest.file == p.dataName else {
                broken.append(p.manifestPath)
                continue
            }
            backups.append(Backup(name: p.name, dataPath: p.dataPath, manifestPath: p.manifestPath, manifest: manifest))
        }
    }
}

extension CatalogScan {
    /// The newest backup of `database` in `directory` (for restore --latest), or an error that
    /// says where pgkeep looked.
    public static func latest(in directory: String, database: String) throws -> Backup {
        guard let newest = try scan(directory, database: database).backups.first else {
            let folder = database == BackupName.globalsDatabase ? database : BackupName.folderName(for: database)
            throw PGKeepError(
                .usage, "no backup of database \"\(database)\" in \(directory) (looked in \(directory)/\(folder))")
        }
        return newest
    }
}

/// The manifest fields that listing and pruning need, decoded without the rest.
public struct ManifestSummary: Decodable, Sendable {
    public var database: String
    public var file: String
    public var format: BackupFormat
    public var size: Int64
    public var label: String?
    public var pinned: Bool
    public var anomalies: [String]?
    public var shrinkAccepted: Bool?
    public var shrinkBaseline: String?
    public var finishedAt: String?
    public var durationSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case database, file, format, size, label, pinned, anomalies
        case shrinkAccepted = "shrink_accepted"
        case shrinkBaseline = "shrink_baseline"
        case finishedAt = "finished_at"
        case durationSeconds = "duration_seconds"
    }

    /// Found shrinking and not accepted (see `Manifest.isAnomalous`).
    public var isAnomalous: Bool { Manifest.isAnomalous(anomalies, accepted: shrinkAccepted) }

    /// Reads and decodes a manifest with plain read(2); nil if it is not a valid manifest.
    static func load(path: String) -> ManifestSummary? { load(at: AT_FDCWD, path) }

    /// `path` relative to the directory `directoryFD` (or to the working directory: AT_FDCWD).
    static func load(at directoryFD: Int32, _ path: String) -> ManifestSummary? {
        let fd = openat(directoryFD, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 0, st.st_size < 16 << 20 else { return nil }
        var data = Data(count: Int(st.st_size))
        let n = data.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n == Int(st.st_size) else { return nil }
        if let fast = data.withUnsafeBytes({ ManifestSummaryParser.parse($0) }) { return fast }
        return try? JSONDecoder().decode(ManifestSummary.self, from: data)
    }
}
