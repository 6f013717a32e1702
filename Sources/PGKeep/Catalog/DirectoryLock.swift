import Foundation

/// An exclusive lock on a backup directory (`flock` on DIR/.pgkeep.lock): a second pgkeep run that
/// writes or deletes there exits at once instead of racing. The kernel drops the lock when the
/// process ends, so a killed run never leaves a stale lock.
public final class DirectoryLock {
    private let fd: Int32
    public let path: String

    public init(directory: String) throws {
        try FileSystem.makePrivateDirectory(directory)
        path = (directory as NSString).appendingPathComponent(".pgkeep.lock")
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw PGKeepError(.backup, "cannot open the lock file \(path): \(errnoText())") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK {
                throw PGKeepError(.locked, "another pgkeep run holds \(directory) (lock \(path)); nothing was done",
                                  hint: "wait for it to finish; a killed run releases the lock by itself")
            }
            throw PGKeepError(.backup, "cannot lock \(path): \(errnoText(code))")
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
