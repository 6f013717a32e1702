import Foundation

/// An exclusive lock on a backup directory (`flock` on DIR/.pgkeep.lock): a second pgkeep run that
/// writes or deletes there exits at once instead of racing. The kernel drops the lock when the
/// process ends, so a killed run never leaves a stale lock.
///
/// Runs that write or delete (backup, run, snapshot, prune, pin) take it exclusively; runs that
/// only read backups (restore and verify from the directory) take it shared, so that nothing is
/// deleted under them while they may still run side by side.
public final class DirectoryLock {
    private let fd: Int32
    public let path: String

    /// A reader (`shared`) neither creates the directory nor needs to write: on a read-only
    /// copy of a backup directory (a mounted snapshot) the lock file is opened read-only, and where
    /// it cannot be created nobody can delete anything either, so no lock is needed.
    /// `file`: another lock in the directory (a shard's own, `.pgkeep-shard-I-of-N.lock`).
    /// `writer`: a shared lock held by a run that writes (a shard): the lock file must open.
    /// `waiting`: wait up to that long for the lock instead of giving up at once.
    public init(
        directory: String, shared: Bool = false, file: String = ".pgkeep.lock", writer: Bool = false,
        waiting: TimeInterval = 0
    ) throws {
        path = (directory as NSString).appendingPathComponent(file)
        if shared && !writer {
            var f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            if f < 0 && errno == ENOENT && FileManager.default.fileExists(atPath: directory) {
                f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            }
            fd = f
            if fd < 0 && [EROFS, EACCES, ENOENT].contains(errno) { return }
        } else {
            try FileSystem.makePrivateDirectory(directory)
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        }
        guard fd >= 0 else { throw PGKeepError(.backup, "cannot open the lock file \(path): \(errnoText())") }
        let deadline = Date().addingTimeInterval(waiting)
        while flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 && errno == EWOULDBLOCK && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
        }
        if flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK {
                throw PGKeepError(
                    .locked, "another pgkeep run holds \(directory) (lock \(path)); nothing was done",
                    hint: "wait for it to finish; a killed run releases the lock by itself")
            }
            throw PGKeepError(.backup, "cannot lock \(path): \(errnoText(code))")
        }
    }

    /// The lock of the backup directory that holds `backupPath` (DIR/<folder>/<file>), when that
    /// directory is a pgkeep one (it has a lock file); nil for a backup elsewhere.
    public static func forBackup(at backupPath: String, shared: Bool) throws -> DirectoryLock? {
        let absolute = URL(fileURLWithPath: backupPath).standardizedFileURL.path
        let directory = FileSystem.parent(of: FileSystem.parent(of: absolute))
        guard FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(".pgkeep.lock"))
        else { return nil }
        return try DirectoryLock(directory: directory, shared: shared)
    }

    deinit {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
    }
}
