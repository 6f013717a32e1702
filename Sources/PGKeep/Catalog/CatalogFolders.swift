import Foundation

extension CatalogScan {
    /// A database folder as a scan found it: its stat then is what its summary is checked against.
    struct Folder {
        var path: String
        var name: String
        var database: String
        var st: stat
    }

    /// The database folders of `directory` (only the folder of `database`, when given), by name;
    /// nil if there is no such directory.
    static func folders(of directory: String, database: String?) throws -> [Folder]? {
        var st = stat()
        guard lstat(directory, &st) == 0 else { return nil }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw PGKeepError(.usage, "\(directory) is not a directory")
        }
        let names: [String]
        if let database {
            names = [database == BackupName.globalsDatabase ? database : BackupName.folderName(for: database)]
        } else {
            names = CatalogScan.entries(of: directory).sorted()
        }
        var found: [Folder] = []
        for name in names {
            let database = name == BackupName.globalsDatabase ? name : BackupName.database(forFolder: name)
            guard let database else { continue }
            let path = directory + "/" + name
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { continue }
            found.append(Folder(path: path, name: name, database: database, st: st))
        }
        return found
    }

    /// Scans `found` on every core (each one's manifests too, in `load`), newest first.
    static func scan(_ found: [Folder], in directory: String, cached: Bool) -> CatalogScan {
        let now = Date().timeIntervalSince1970
        let cached = cached && CatalogCache.keepsFolderTimes(directory)
        let parts = Locked([CatalogScan](repeating: CatalogScan(), count: found.count))
        DispatchQueue.concurrentPerform(iterations: found.count) { i in
            let f = found[i]
            var part = CatalogScan()
            if cached,
                let summary = CatalogCache.read(directory: directory, folder: f.name, database: f.database, st: f.st)
            {
                part = summary
            } else {
                part.add(folder: f.path, folderName: f.name, database: f.database)
                // Each folder sorted here, on its core (and so in its summary): the sort below
                // then merges ordered runs.
                part.backups.sort(by: Backup.newerFirst)
                if cached {
                    CatalogCache.write(directory: directory, folder: f.name, before: f.st, part: part, now: now)
                }
            }
            parts.withLock { $0[i] = part }
        }
        var result = CatalogScan()
        for part in parts.current {
            result.backups += part.backups
            result.leftovers += part.leftovers
            result.orphans += part.orphans
            result.broken += part.broken
            result.temporary += part.temporary
        }
        result.backups.sort(by: Backup.newerFirst)
        return result
    }

    /// The scan of `directory` one database at a time, in the order retention takes them (the
    /// globals first, then by name: `PruneJob.plan`'s), the next one read on another core while
    /// `body` takes the current one. A listing of 100,000 backups in ten databases then holds two
    /// databases' backups at a time, not the directory's. A database's folders (its own, and any
    /// other spelling of its name) come together, as retention counts them.
    ///
    /// With `byName`, the globals and a database named "@globals" come together, as `status` counts
    /// them (under one name).
    ///
    /// Returns the rest of the scan, everything but the backups (leftovers, orphans, broken
    /// manifests, temporary files), in the whole scan's order.
    @discardableResult
    public static func eachDatabase(
        _ directory: String, database: String? = nil, cached: Bool, byName: Bool = false,
        _ body: (CatalogScan) throws -> Void
    ) throws -> CatalogScan {
        var rest = CatalogScan()
        guard let found = try folders(of: directory, database: database) else { return rest }
        // "0" for the globals' folder, "1" and the name for a database's (one named "@globals" too).
        let groups = Dictionary(grouping: found) {
            byName ? $0.database : ($0.name == BackupName.globalsDatabase ? "0" : "1") + $0.database
        }.sorted { $0.key < $1.key }.map(\.value)
        func start(_ group: [Folder]) -> (DispatchSemaphore, Locked<CatalogScan>) {
            let done = DispatchSemaphore(value: 0)
            let box = Locked(CatalogScan())
            DispatchQueue.global().async {
                let part = scan(group, in: directory, cached: cached)
                box.withLock { $0 = part }
                done.signal()
            }
            return (done, box)
        }
        var next = groups.first.map(start)
        for i in groups.indices {
            guard let (done, box) = next else { break }
            done.wait()
            let part = box.withLock { p in
                defer { p = CatalogScan() }
                return p
            }
            next = i + 1 < groups.count ? start(groups[i + 1]) : nil
            try body(part)
            rest.leftovers += part.leftovers
            rest.orphans += part.orphans
            rest.broken += part.broken
            rest.temporary += part.temporary
        }
        rest.leftovers = inFolderOrder(rest.leftovers, directory: directory)
        rest.orphans = inFolderOrder(rest.orphans, directory: directory)
        rest.broken = inFolderOrder(rest.broken, directory: directory)
        rest.temporary = inFolderOrder(rest.temporary, directory: directory)
        return rest
    }

    /// Paths in the order the whole scan gives them: by their folder's name, and within a folder as
    /// found (a database at a time gathers them in another order).
    private static func inFolderOrder(_ paths: [String], directory: String) -> [String] {
        let skip = directory.count + 1
        func folder(_ path: String) -> Substring { path.dropFirst(skip).prefix { $0 != "/" } }
        return paths.enumerated().sorted { a, b in
            let (fa, fb) = (folder(a.element), folder(b.element))
            return fa != fb ? String(fa) < String(fb) : a.offset < b.offset
        }.map(\.element)
    }
}
