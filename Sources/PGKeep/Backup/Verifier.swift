import Crypto
import Foundation

/// Reads a just-written backup back from disk before it is recorded: the SHA-256 must match
/// what was written, every gzip stream must decompress to its end, and the content must be
/// complete for its format (`pg_restore --list` reads a custom archive's table of contents;
/// a SQL script must end with pg_dump's "dump complete" line).
public enum Verifier {
    /// The result of reading one stream-format file back.
    public struct StreamCheck: Sendable {
        public var verification: Manifest.Verification
        public var uncompressedBytes: Int64
    }

    static let sqlTrailers = ["-- PostgreSQL database dump complete", "-- PostgreSQL database cluster dump complete"]

    /// Verifies a `.dump[.gz]`, `.sql[.gz]` or `.globals.sql[.gz]` file.
    public static func verifyStream(path: String, sha256 expected: String, size: Int64, format: BackupFormat,
                                    compressed: Bool, listCommand: Command?) throws -> StreamCheck {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PGKeepError(.backup, "verification cannot open \(path): \(errnoText())") }
        defer { close(fd) }

        var lister: TOCLister?
        if format == .custom, let listCommand {
            lister = try TOCLister(command: listCommand)
        }
        var tail = [UInt8]()
        let consume: (UnsafeRawBufferPointer) throws -> Void = { chunk in
            lister?.feed(chunk)
            if format == .plain || format == .globals {
                tail.append(contentsOf: chunk.suffix(256))
                if tail.count > 256 { tail.removeFirst(tail.count - 256) }
            }
        }

        let sha: String
        let onDisk: Int64
        let plainBytes: Int64
        do {
            if compressed {
                let r = try GzipReader.decompress(fd: fd, path: path, consume: consume)
                (sha, onDisk, plainBytes) = (r.sha256, r.compressedBytes, r.uncompressedBytes)
            } else {
                var hasher = SHA256()
                var total: Int64 = 0
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
                defer { buffer.deallocate() }
                while true {
                    let n = try readFully(fd, into: buffer, count: 1 << 20, what: path)
                    if n == 0 { break }
                    let chunk = UnsafeRawBufferPointer(start: buffer, count: n)
                    hasher.update(bufferPointer: chunk)
                    try consume(chunk)
                    total += Int64(n)
                }
                (sha, onDisk, plainBytes) = (hasher.finalize().hexString, total, total)
            }
        } catch {
            lister?.abandon()
            throw error
        }

        guard onDisk == size, sha == expected else {
            lister?.abandon()
            throw PGKeepError(.backup, "verification failed: \(path) on disk (\(onDisk) bytes, sha256 \(sha.prefix(12))…) differs from what was written (\(size) bytes, sha256 \(expected.prefix(12))…)",
                              hint: "the disk or filesystem may be failing; check dmesg and try another --dir")
        }
        var verification = Manifest.Verification(verifiedAt: BackupName.isoString(Date()), sha256Reread: true,
                                                 gzipComplete: compressed ? true : nil)
        if let lister {
            verification.tocEntries = try lister.finish()
            verification.pgRestoreList = true
        }
        if format == .plain || format == .globals {
            let text = String(decoding: tail, as: UTF8.self)
            guard sqlTrailers.contains(where: { text.contains($0) }) else {
                throw PGKeepError(.backup, "verification failed: \(path) does not end with pg_dump's \"dump complete\" line; the SQL script is incomplete")
            }
            verification.sqlTrailer = true
        }
        return StreamCheck(verification: verification, uncompressedBytes: plainBytes)
    }

    /// The result of checking a directory-format backup.
    public struct DirectoryCheck: Sendable {
        public var verification: Manifest.Verification
        public var files: [Manifest.FileEntry]
        public var size: Int64
        public var sha256: String
    }

    /// Verifies a pg_dump directory: `pg_restore --list` reads its toc.dat, every file is hashed
    /// and every `.gz` file decompressed to its end, several files at a time.
    public static func verifyDirectory(path: String, listCommand: Command, workers: Int) throws -> DirectoryCheck {
        let (out, result) = try ChildProcess.capture(listCommand)
        guard result.succeeded else {
            throw result.failure("verification failed: pg_restore --list cannot read \(path)")
        }
        let entries = tocEntryCount(String(decoding: out, as: UTF8.self))
        let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        let entriesOut = Locked([Manifest.FileEntry?](repeating: nil, count: names.count))
        let firstError = Locked<Error?>(nil)
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = max(1, workers)
        for (i, name) in names.enumerated() {
            queue.addOperation {
                let filePath = (path as NSString).appendingPathComponent(name)
                do {
                    let fd = open(filePath, O_RDONLY | O_CLOEXEC)
                    guard fd >= 0 else { throw PGKeepError(.backup, "verification cannot open \(filePath): \(errnoText())") }
                    defer { close(fd) }
                    let entry: Manifest.FileEntry
                    if name.hasSuffix(".gz") {
                        let r = try GzipReader.decompress(fd: fd, path: filePath) { _ in }
                        entry = Manifest.FileEntry(path: name, size: r.compressedBytes, sha256: r.sha256)
                    } else {
                        var hasher = SHA256()
                        var total: Int64 = 0
                        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
                        defer { buffer.deallocate() }
                        while true {
                            let n = try readFully(fd, into: buffer, count: 1 << 20, what: filePath)
                            if n == 0 { break }
                            hasher.update(bufferPointer: UnsafeRawBufferPointer(start: buffer, count: n))
                            total += Int64(n)
                        }
                        entry = Manifest.FileEntry(path: name, size: total, sha256: hasher.finalize().hexString)
                    }
                    entriesOut.withLock { $0[i] = entry }
                } catch {
                    firstError.withLock { if $0 == nil { $0 = error } }
                }
            }
        }
        queue.waitUntilAllOperationsAreFinished()
        if let error = firstError.current { throw error }
        let files = entriesOut.current.compactMap { $0 }
        return DirectoryCheck(
            verification: Manifest.Verification(verifiedAt: BackupName.isoString(Date()), sha256Reread: true,
                                                gzipComplete: files.contains { $0.path.hasSuffix(".gz") } ? true : nil,
                                                pgRestoreList: true, tocEntries: entries),
            files: files, size: files.reduce(0) { $0 + $1.size }, sha256: directoryDigest(files))
    }

    /// SHA-256 of `sha256sum`-style lines for the files, sorted by path.
    public static func directoryDigest(_ files: [Manifest.FileEntry]) -> String {
        let text = files.sorted { $0.path < $1.path }.map { "\($0.sha256)  \($0.path)\n" }.joined()
        return SHA256.hash(data: Data(text.utf8)).hexString
    }

    /// Lines of `pg_restore --list` output that are entries (comments start with ';').
    static func tocEntryCount(_ listing: String) -> Int {
        listing.split(separator: "\n").filter { !$0.hasPrefix(";") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }.count
    }
}

/// Feeds a custom archive to `pg_restore --list` on stdin while the file is read back. pg_restore
/// reads the header and table of contents and exits; what follows is not needed, so feeding stops
/// quietly at EPIPE.
final class TOCLister {
    private let child: ChildProcess
    private var accepting = true
    private var output = Data()
    private let outputDone = DispatchSemaphore(value: 0)

    init(command: Command) throws {
        child = ChildProcess(command, stdin: .pipe, stdout: .pipe)
        try child.start()
        let fd = child.stdoutDescriptor
        let thread = Thread { [self] in
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 { output.append(contentsOf: chunk[0..<n]) } else if n < 0 && errno == EINTR { continue } else { break }
            }
            outputDone.signal()
        }
        thread.start()
    }

    func feed(_ chunk: UnsafeRawBufferPointer) {
        guard accepting else { return }
        let fd = child.stdinDescriptor
        var offset = 0
        while offset < chunk.count {
            let n = write(fd, chunk.baseAddress! + offset, chunk.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                accepting = false  // EPIPE: pg_restore has read all it needs
                child.closeStdin()
                return
            }
            offset += n
        }
    }

    /// Closes stdin, waits, and returns the number of TOC entries listed.
    func finish() throws -> Int {
        child.closeStdin()
        outputDone.wait()
        let result = child.wait()
        guard result.succeeded else {
            throw result.failure("verification failed: pg_restore --list cannot read the archive",
                                 hint: "the archive is damaged; the earlier backups are untouched")
        }
        let count = Verifier.tocEntryCount(String(decoding: output, as: UTF8.self))
        guard count > 0 else {
            throw PGKeepError(.backup, "verification failed: pg_restore --list found no entries in the archive")
        }
        return count
    }

    func abandon() {
        child.closeStdin()
        child.terminate(grace: 1)
        outputDone.wait()
        child.wait()
    }
}
