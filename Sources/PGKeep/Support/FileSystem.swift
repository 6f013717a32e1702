import CPGKeep
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// File operations with the guarantees a backup needs: private modes whatever the umask,
/// fsync of files and directories, renames that never replace an existing backup.
public enum FileSystem {
    /// `path` made absolute against the working directory (a relative path given on the command
    /// line means the same when cron or systemd runs the command elsewhere).
    public static func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let cwd = FileManager.default.currentDirectoryPath
        return ((cwd as NSString).appendingPathComponent(path) as NSString).standardizingPath
    }

    /// Creates `path` and any missing parents with mode 0700, whatever the umask. A directory that
    /// already exists, `path` included, keeps its mode: pgkeep tightens only what it creates.
    public static func makePrivateDirectory(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else {
                throw PGKeepError(.backup, "\(path) exists and is not a directory")
            }
            return
        }
        let parent = FileSystem.parent(of: path)
        if !parent.isEmpty && parent != path {
            try makePrivateDirectory(parent)
        }
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw PGKeepError(
                .backup, "cannot create directory \(path): \(errnoText())",
                hint: "check that the backup directory is writable")
        }
        // mkdir's mode is filtered by the umask; set it explicitly.
        _ = chmod(path, 0o700)
    }

    /// `path` without its last component, as NSString's `deletingLastPathComponent` gives it ("" for
    /// a name alone, "/" for a name at the root). Written here because swift-corelibs-foundation's
    /// traps on a relative name of one character ("b", "b/", "./" ...): `--dir b` crashed pgkeep.
    public static func parent(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        var parent = p[..<slash]
        while parent.count > 1 && parent.hasSuffix("/") { parent = parent.dropLast() }
        return parent.isEmpty ? "/" : String(parent)
    }

    /// Creates a new file (never an existing one) with mode 0600 and returns its descriptor.
    public static func createPrivateFile(_ path: String) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw PGKeepError(.backup, "cannot create \(path): \(errnoText())")
        }
        _ = fchmod(fd, 0o600)
        return fd
    }

    /// Writes all of `buffer` to `fd`, retrying short writes and EINTR.
    public static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < buffer.count {
            let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                throw PGKeepError(
                    .backup, "cannot write \(path): \(errnoText(code))",
                    hint: code == ENOSPC ? "the disk is full; free space or choose another --dir" : nil)
            }
            offset += n
        }
    }

    /// Reads `fd` to its end (or to a read error) in 256 KiB chunks, handing each to `body`
    /// while it returns true.
    static func readChunks(_ fd: Int32, _ body: (UnsafeRawBufferPointer) -> Bool) {
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                pgkeep_progress_tick()
                guard buffer.withUnsafeBytes({ body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) else { return }
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }

    /// Writes all of `buffer` to a pipe unless its reader goes away (EPIPE or another error), in
    /// which case it returns false: for feeding children that may stop reading early.
    @discardableResult
    public static func writeUntilClosed(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < buffer.count {
            let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            pgkeep_progress_tick()
            offset += n
        }
        return true
    }

    /// fsync on a file descriptor, with a message that names the file.
    public static func sync(_ fd: Int32, path: String) throws {
        if fsync(fd) != 0 {
            let code = errno
            throw PGKeepError(
                .backup, "cannot fsync \(path): \(errnoText(code))",
                hint: code == ENOSPC ? "the disk is full; free space or choose another --dir" : nil)
        }
    }

    /// fsync a path (a file or a directory), so that renames and new entries survive a crash.
    public static func syncPath(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PGKeepError(.backup, "cannot open \(path) to fsync it: \(errnoText())") }
        defer { close(fd) }
        try sync(fd, path: path)
    }

    /// Moves `source` to `destination` only if nothing exists there. Returns false when
    /// `destination` is taken; the caller then picks another name. Never replaces a file.
    public static func moveNoReplace(_ source: String, to destination: String) throws -> Bool {
        var st = stat()
        if lstat(destination, &st) == 0 { return false }
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: source, isDirectory: &isDir)
        if isDir.boolValue {
            // rename(2) fails on a non-empty target directory, and we checked that none exists.
            if rename(source, destination) != 0 {
                if errno == EEXIST || errno == ENOTEMPTY { return false }
                throw PGKeepError(.backup, "cannot rename \(source) to \(destination): \(errnoText())")
            }
            return true
        }
        // link(2) refuses an existing target atomically; then drop the temporary name.
        if link(source, destination) != 0 {
            if errno == EEXIST { return false }
            throw PGKeepError(.backup, "cannot rename \(source) to \(destination): \(errnoText())")
        }
        _ = unlink(source)
        return true
    }

    /// Removes a file or a whole directory tree; errors are ignored (used for cleanup).
    public static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            try? FileManager.default.removeItem(atPath: path)
        } else {
            _ = unlink(path)
        }
    }

    /// Writes `data` to a new 0600 file at `path`, fsynced (unless `sync` is false).
    public static func writePrivateFile(_ path: String, data: Data, sync durable: Bool = true) throws {
        let fd = try createPrivateFile(path)
        defer { close(fd) }
        try data.withUnsafeBytes { try writeAll(fd, $0, path: path) }
        if durable { try sync(fd, path: path) }
    }

    /// Replaces `path` whole: `data` goes to a private temporary file beside it (removed on failure
    /// and on a signal), which is renamed over it, so a reader sees the old file or the new one.
    /// Without `sync` the new file is not fsynced first: for what checks itself when read (a catalog
    /// summary ends in its CRC), never for what must survive a crash.
    public static func replace(_ path: String, with data: Data, sync durable: Bool = true) throws {
        let folder = FileSystem.parent(of: path)
        let temp = (folder.isEmpty ? "." : folder) + "/.pgkeep-tmp-\(getpid())-" + (path as NSString).lastPathComponent
        try? FileManager.default.removeItem(atPath: temp)
        let token = Cancellation.shared.register(path: temp)
        defer { Cancellation.shared.unregister(token) }
        do { try writePrivateFile(temp, data: data, sync: durable) } catch {
            removeTree(temp)
            throw error
        }
        guard rename(temp, path) == 0 else {
            let e = errnoText()
            removeTree(temp)
            throw PGKeepError(.backup, "cannot replace \(path): \(e)")
        }
    }

    /// A secret kept in a file (a password, a passphrase): its text without the trailing newline
    /// editors and `echo` add; nil when the file cannot be read. The secret is registered for
    /// redaction, so no message can show it.
    public static func readSecret(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        var text = String(decoding: data, as: UTF8.self)
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        Redaction.shared.register(text)
        return text
    }
}
