import Foundation

/// The backups in a backup directory: every data file that has a pgkeep manifest beside it.
/// Files without a manifest, foreign files and symlinks are never counted as backups.
public enum BackupCatalog {
    public struct Entry: Sendable {
        public var name: BackupName
        public var dataPath: String
        public var manifestPath: String
        public var manifest: Manifest
    }

    /// The backups of one database (not the globals), newest first.
    public static func backups(in directory: String, database: String) throws -> [Entry] {
        let folder = (directory as NSString).appendingPathComponent(BackupName.folderName(for: database))
        var st = stat()
        guard lstat(folder, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return [] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var entries: [Entry] = []
        for file in names where file.hasSuffix(BackupName.manifestSuffix) && !file.hasPrefix(".") {
            let dataName = String(file.dropLast(BackupName.manifestSuffix.count))
            guard let name = BackupName.parse(fileName: dataName), name.database == database, name.format != .globals else { continue }
            let manifestPath = (folder as NSString).appendingPathComponent(file)
            let dataPath = (folder as NSString).appendingPathComponent(dataName)
            guard lstat(manifestPath, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
                  lstat(dataPath, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG || (st.st_mode & S_IFMT) == S_IFDIR,
                  let manifest = try? Manifest.load(path: manifestPath), manifest.file == dataName else { continue }
            entries.append(Entry(name: name, dataPath: dataPath, manifestPath: manifestPath, manifest: manifest))
        }
        return entries.sorted { ($0.name.time, $0.name.sequence) > ($1.name.time, $1.name.sequence) }
    }

    /// The newest backup of `database`, or an error that says where pgkeep looked.
    public static func latest(in directory: String, database: String) throws -> Entry {
        guard let newest = try backups(in: directory, database: database).first else {
            throw PGKeepError(.usage, "no backup of database \"\(database)\" in \(directory) (looked in \((directory as NSString).appendingPathComponent(BackupName.folderName(for: database))))")
        }
        return newest
    }
}
