import CPGKeep
import Foundation

/// A summary of each backup folder's scan, kept beside the folders as
/// `DIR/.pgkeep-catalog.<folder>`, so that `list`, `prune --dry-run` and `status` on 100,000
/// backups open only the folders that changed.
///
/// A folder's summary is used only while the folder's stat (device, inode, size, link count,
/// modification and change times to the nanosecond) is the one recorded in it: creating,
/// renaming or deleting any entry in the folder changes its times, and pgkeep writes every
/// manifest by renaming a new file over it. It is never trusted over a manifest: the real prune,
/// verify, restore and backup read the manifests themselves. A summary that is missing, stale,
/// cut, flipped (CRC-32), not a regular file, a symlink, not the user's own or readable by others
/// is ignored and written anew. Folders that changed in the last two seconds (a change within the
/// same clock tick could leave the times as they were), or that hold a run's temporary files or an
/// unreadable manifest, are not summarised: they are read each time.
enum CatalogCache {
    static let prefix = ".pgkeep-catalog."
    /// Summaries larger than this are not read (a folder of 100,000 backups takes about 12 MB).
    static let maxBytes = 512 << 20
    /// How old a folder's last change must be before its summary is written.
    static let settleSeconds = 2.0

    /// The stat of a folder that a summary is valid for.
    struct FolderKey: Equatable {
        var fields: [Int64]

        init(_ st: stat) {
            fields = [
                Int64(bitPattern: UInt64(st.st_dev)), Int64(bitPattern: UInt64(st.st_ino)), Int64(st.st_size),
                Int64(st.st_nlink), Int64(st.st_mtim.tv_sec), Int64(st.st_mtim.tv_nsec), Int64(st.st_ctim.tv_sec),
                Int64(st.st_ctim.tv_nsec),
            ]
        }

        /// Whether the folder's last change is at least `settleSeconds` before `now`.
        func settled(now: Double) -> Bool {
            let changed = max(Double(fields[4]) + Double(fields[5]) / 1e9, Double(fields[6]) + Double(fields[7]) / 1e9)
            return now - changed >= CatalogCache.settleSeconds
        }
    }

    /// Whether a folder's times on this filesystem change with its entries, as POSIX requires: not
    /// on FUSE mounts, where an object store's folders may keep one time for ever. Listings there
    /// read every manifest.
    static func keepsFolderTimes(_ directory: String) -> Bool {
        pgkeep_is_fuse(directory) == 0
    }

    /// The summary of `folder` in `directory`, if there is a valid one for the folder as `st` shows it.
    static func read(
        directory: String, folder: String, database: String, st: stat
    ) -> CatalogScan? {
        let fd = open(directory + "/" + prefix + folder, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var own = stat()
        guard fstat(fd, &own) == 0, (own.st_mode & S_IFMT) == S_IFREG, own.st_uid == geteuid(),
            own.st_mode & 0o077 == 0, own.st_size > 0, own.st_size <= maxBytes
        else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(own.st_size))
        var got = 0
        while got < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, $0.count - got) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            got += n
        }
        return bytes.withUnsafeBytes {
            CatalogCacheCoding.decode(
                $0, key: FolderKey(st), folder: folder, folderPath: directory + "/" + folder,
                known: (folder, database))
        }
    }

    /// Writes the summary of a folder just scanned, if it may be kept: the folder's stat is the
    /// same as before the scan (`before`), settled, and the scan found nothing in flight. Errors
    /// are ignored (a directory the user may read but not write is listed without a cache). The
    /// temporary file is `.pgkeep-tmp-<pid>-.pgkeep-catalog.<folder>` (`FileSystem.replace`).
    static func write(directory: String, folder: String, before: stat, part: CatalogScan, now: Double) {
        let folderPath = directory + "/" + folder
        var after = stat()
        let key = FolderKey(before)
        guard part.temporary.isEmpty, part.broken.isEmpty, key.settled(now: now),
            lstat(folderPath, &after) == 0, FolderKey(after) == key
        else { return }
        let bytes = CatalogCacheCoding.encode(key: key, folder: folder, part: part)
        // Not fsynced: a summary cut by a crash fails its CRC and is written anew.
        try? FileSystem.replace(directory + "/" + prefix + folder, with: Data(bytes), sync: false)
    }

    /// What earlier runs left of the cache at the top of `directory`: summaries whose folder is
    /// gone, and temporary summaries whose writer was killed (its pid is gone, or the file is
    /// `old`: written on another host, or by a pid 1 in a container). Only regular files of the
    /// user's own: the real prune removes them.
    static func leftovers(in directory: String, old: (String) -> Bool) -> [String] {
        CatalogScan.entries(of: directory).filter { name in
            var st = stat()
            guard lstat(directory + "/" + name, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == geteuid()
            else { return false }
            if name.hasPrefix(".pgkeep-tmp-") {
                return name.contains("-catalog.") && (PruneJob.writerIsGone(name) || old(directory + "/" + name))
            }
            guard name.hasPrefix(prefix) else { return false }
            let folder = String(name.dropFirst(prefix.count))
            guard folder == BackupName.globalsDatabase || BackupName.database(forFolder: folder) != nil else {
                return false
            }
            return lstat(directory + "/" + folder, &st) != 0
        }.map { directory + "/" + $0 }
    }
}
