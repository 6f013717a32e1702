import Foundation

/// Everything pgkeep finds in a backup directory, sorted into what it made and what it did not.
/// Only folders and files with pgkeep's names count; symlinks are never followed (a symlinked
/// folder or file is foreign); nothing outside the directory is looked at.
public struct CatalogScan: Sendable {
    /// A manifest renamed to this prefix is a backup being deleted (see PruneJob).
    public static let tombstonePrefix = ".pgkeep-deleting-"

    /// Backups: a data file (or directory) and the manifest that names it, newest first.
    public var backups: [BackupCatalog.Entry] = []
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

    /// Scans `directory` (only the folder of `database`, when given).
    public static func scan(_ directory: String, database: String? = nil) throws -> CatalogScan {
        var result = CatalogScan()
        var st = stat()
        guard lstat(directory, &st) == 0 else { return result }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw PGKeepError(.usage, "\(directory) is not a directory")
        }
        let folders: [String]
        if let database {
            folders = [database == BackupName.globalsDatabase ? database : BackupName.folderName(for: database)]
        } else {
            folders = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        }
        for folder in folders {
            guard folder == BackupName.globalsDatabase || BackupName.database(forFolder: folder) != nil else { continue }
            let folderPath = (directory as NSString).appendingPathComponent(folder)
            guard lstat(folderPath, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { continue }
            result.add(folder: folderPath, folderName: folder)
        }
        result.backups.sort { ($0.name.time, $0.name.sequence, $0.dataPath) > ($1.name.time, $1.name.sequence, $1.dataPath) }
        return result
    }

    private mutating func add(folder: String, folderName: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let nameSet = Set(names)
        var st = stat()
        // Data files a pgkeep marker names: a deletion tombstone, or a commit's temporary manifest.
        var marked = Set<String>()
        for file in names where file.hasSuffix(BackupName.manifestSuffix) {
            let stem = String(file.dropLast(BackupName.manifestSuffix.count))
            if file.hasPrefix(CatalogScan.tombstonePrefix) {
                marked.insert(String(stem.dropFirst(CatalogScan.tombstonePrefix.count)))
            } else if file.hasPrefix(".pgkeep-tmp-"), let range = stem.range(of: "-", options: [], range: stem.index(stem.startIndex, offsetBy: 12)..<stem.endIndex) {
                // .pgkeep-tmp-<pid>-<random>-<data name>.manifest.json
                let rest = stem[range.upperBound...]
                if let dash = rest.firstIndex(of: "-") { marked.insert(String(rest[rest.index(after: dash)...])) }
            }
        }
        for file in names {
            let path = (folder as NSString).appendingPathComponent(file)
            if file.hasPrefix(".pgkeep-tmp-") || file.hasPrefix(CatalogScan.tombstonePrefix) {
                if lstat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFLNK { temporary.append(path) }
                continue
            }
            if file.hasSuffix(BackupName.manifestSuffix) {
                let dataName = String(file.dropLast(BackupName.manifestSuffix.count))
                guard let name = BackupName.parse(fileName: dataName), name.folder == folderName else { continue }
                guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
                let dataPath = (folder as NSString).appendingPathComponent(dataName)
                guard nameSet.contains(dataName), lstat(dataPath, &st) == 0,
                      (st.st_mode & S_IFMT) == S_IFREG || (st.st_mode & S_IFMT) == S_IFDIR,
                      let manifest = try? Manifest.load(path: path), manifest.file == dataName else {
                    broken.append(path)
                    continue
                }
                backups.append(BackupCatalog.Entry(name: name, dataPath: dataPath, manifestPath: path, manifest: manifest))
            } else if let name = BackupName.parse(fileName: file), name.folder == folderName,
                      !nameSet.contains(file + BackupName.manifestSuffix),
                      lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG || (st.st_mode & S_IFMT) == S_IFDIR {
                if marked.contains(file) { leftovers.append(path) } else { orphans.append(path) }
            }
        }
    }
}

extension BackupCatalog.Entry {
    /// The grouping key for retention: each database (and the globals) is pruned on its own.
    public var group: String { name.format == .globals ? BackupName.globalsDatabase : "db:" + name.database }
}
