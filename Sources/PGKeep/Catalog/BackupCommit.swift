import Foundation

/// How a backup comes into being in a backup directory. The data is written and verified under
/// a temporary name in the database's folder; then it is renamed to the first free name (never
/// over an existing file), its manifest renamed beside it, and the folder fsynced. A backup
/// exists only once its manifest does; a failure at any step removes the temporary files and
/// leaves every earlier backup untouched.
struct BackupCommit {
    /// The backup directory; each database has a folder in it.
    let directory: String
    let name: BackupName

    /// Gives `body` a temporary path in the backup's folder (removed on failure and on Ctrl-C);
    /// `body` writes and verifies there and returns the manifest; then the backup is committed.
    func write(_ body: (String) throws -> Manifest) throws -> BackupRecord {
        let folder = try makeFolder()
        let temp = Self.temporaryPath(in: folder, for: name)
        let token = Cancellation.shared.register(path: temp)
        defer { Cancellation.shared.unregister(token) }
        do {
            let manifest = try body(temp)
            let mark = Date()
            let record = try commit(temp: temp, folder: folder, manifest: manifest)
            Trace.phase("commit", since: mark)
            return record
        } catch {
            FileSystem.removeTree(temp)
            throw error
        }
    }

    /// The database's folder, created 0700 (and the directory above it) and made durable.
    private func makeFolder() throws -> String {
        let topExisted = FileManager.default.fileExists(atPath: directory)
        try FileSystem.makePrivateDirectory(directory)
        let folder = (directory as NSString).appendingPathComponent(name.folder)
        let existed = FileManager.default.fileExists(atPath: folder)
        try FileSystem.makePrivateDirectory(folder)
        if !existed { try FileSystem.syncPath(directory) }
        let above = FileSystem.parent(of: directory)
        if !topExisted { try? FileSystem.syncPath(above.isEmpty ? "." : above) }
        return folder
    }

    /// `.pgkeep-tmp-<pid>-<random>-<name>`: a name no backup has, which prune knows as a leftover.
    static func temporaryPath(in folder: String, for name: BackupName) -> String {
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return (folder as NSString).appendingPathComponent(".pgkeep-tmp-\(getpid())-\(random)-\(name.fileName)")
    }

    /// Renames the verified data into place under the next name of its second (adding _001, _002,
    /// ... after the highest one there, never a lower one a prune freed), then the manifest beside
    /// it, then fsyncs the folder. The manifest is written to a temporary file first, so that a crash between the two renames leaves a marker
    /// by which prune knows the data file as pgkeep's leftover. Until the manifest is in place the
    /// data file is not a backup, and it is removed if anything fails.
    private func commit(temp: String, folder: String, manifest: Manifest) throws -> BackupRecord {
        // A cancel (a signal, the watchdog) waits for the renames to end: it must not remove a data
        // file whose manifest is already in place.
        try Cancellation.shared.uninterrupted { try renameIntoPlace(temp: temp, folder: folder, manifest: manifest) }
    }

    private func renameIntoPlace(temp: String, folder: String, manifest: Manifest) throws -> BackupRecord {
        var final = name
        var manifest = manifest
        var dataPath = ""
        var manifestTemp = ""
        var manifestToken: Int?
        defer { if let manifestToken { Cancellation.shared.unregister(manifestToken) } }
        final.sequence = max(final.sequence, Self.nextSequence(after: final, in: folder))
        while true {
            dataPath = (folder as NSString).appendingPathComponent(final.fileName)
            let manifestPath = (folder as NSString).appendingPathComponent(final.manifestName)
            if !FileManager.default.fileExists(atPath: manifestPath) && !Self.stemTaken(final, in: folder) {
                manifest.file = final.fileName
                manifestTemp = Self.temporaryPath(in: folder, for: final) + BackupName.manifestSuffix
                if let manifestToken { Cancellation.shared.unregister(manifestToken) }
                manifestToken = Cancellation.shared.register(path: manifestTemp)
                try FileSystem.writePrivateFile(manifestTemp, data: try manifest.encoded())
                if try FileSystem.moveNoReplace(temp, to: dataPath) { break }
                FileSystem.removeTree(manifestTemp)
            }
            final.sequence += 1
            if final.sequence > BackupName.maxSequence {
                throw PGKeepError(.backup, "cannot find a free name for \(name.fileName) in \(folder)")
            }
        }
        let dataToken = Cancellation.shared.register(path: dataPath)
        defer { Cancellation.shared.unregister(dataToken) }
        do {
            let manifestPath = (folder as NSString).appendingPathComponent(final.manifestName)
            guard try FileSystem.moveNoReplace(manifestTemp, to: manifestPath) else {
                throw PGKeepError(.backup, "\(manifestPath) appeared while the backup was written; not overwriting it")
            }
            try FileSystem.syncPath(folder)
            return BackupRecord(path: dataPath, manifestPath: manifestPath, manifest: manifest)
        } catch {
            FileSystem.removeTree(dataPath)
            FileSystem.removeTree(manifestTemp)
            throw error
        }
    }

    /// One more than the highest sequence of any backup of this database and second in the folder
    /// (0 when there is none): a new backup never takes a lower number that a prune freed, so the
    /// names of one second stay in the order the backups were taken.
    static func nextSequence(after name: BackupName, in folder: String) -> Int {
        var highest = -1
        for entry in CatalogScan.entries(of: folder) {
            let file =
                entry.hasSuffix(BackupName.manifestSuffix)
                ? String(entry.dropLast(BackupName.manifestSuffix.count)) : entry
            guard let other = BackupName.parse(fileName: file), other.database == name.database,
                floor(other.time.timeIntervalSince1970) == floor(name.time.timeIntervalSince1970)
            else { continue }
            highest = max(highest, other.sequence)
        }
        return highest + 1
    }

    /// Whether a backup of any format already has this name's stem (database, second, sequence):
    /// a second backup in the same second gets the next sequence even in another format, so that
    /// the newest backup is never ambiguous (`restore --latest`, retention).
    static func stemTaken(_ name: BackupName, in folder: String) -> Bool {
        for format in BackupFormat.allCases {
            for codec in [nil] + Codec.allCases {
                for encrypted in [false, true] {
                    let other = BackupName(
                        database: name.database, time: name.time, sequence: name.sequence,
                        format: format, codec: codec, encrypted: encrypted)
                    let path = (folder as NSString).appendingPathComponent(other.fileName)
                    if FileManager.default.fileExists(atPath: path) { return true }
                }
            }
        }
        return false
    }
}
