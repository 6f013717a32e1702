import Crypto
import Foundation

/// Checks a just-written backup before it is recorded.
///
/// For pgkeep's compressed streams the compressor has already decompressed what it made and
/// checked it against pg_dump's output (see `ParallelGzipWriter`, `ZstdWriter`), so the stream is
/// known to decompress to its end. What is left is the file on disk: it is read back whole and its
/// SHA-256 and size must match what was written; a gzip file's members (each one's header and
/// trailer: CRC-32, length) must add up to the stream, a zstd file must start with zstd's magic number; and its head is
/// decompressed from disk into `pg_restore --list`, which must read a custom archive's table of
/// contents. A SQL script must end with pg_dump's "dump complete" line.
public enum Verifier {
    static let sqlTrailers = ["-- PostgreSQL database dump complete", "-- PostgreSQL database cluster dump complete"]

    /// What the writer knows about the gzip stream it wrote.
    public struct GzipTrailer: Sendable {
        public var crc32: UInt32
        public var uncompressedBytes: Int64
    }

    /// Verifies a `.dump[.gz|.zst]`, `.sql[.gz|.zst]` or `.globals.sql[.gz|.zst]` file.
    public static func verifyStream(
        path: String, sha256 expected: String, size: Int64,
        stream: Codec.StreamCheck?, listCommand: Command?
    ) throws -> Manifest.Verification {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PGKeepError(.backup, "verification cannot open \(path): \(errnoText())") }
        defer { close(fd) }

        var lister: PGRestoreReader?
        if let listCommand { lister = try PGRestoreReader(command: listCommand) }
        let feed: (UnsafeRawBufferPointer) -> Bool = { chunk in
            guard let lister else { return false }
            lister.feed(chunk)
            return lister.accepting
        }

        let sha: String
        let onDisk: Int64
        do {
            if let stream {
                let r = try stream.codec.decompress(fd: fd, path: path, consume: feed)
                (sha, onDisk) = (r.sha256, r.compressedBytes)
            } else {
                var feeding = true
                (sha, onDisk) = try hashChunks(of: fd, path: path) { chunk in
                    if feeding { feeding = feed(chunk) }
                }
            }
        } catch {
            lister?.abandon()
            throw error
        }

        guard onDisk == size, sha == expected else {
            lister?.abandon()
            throw PGKeepError(
                .backup,
                "verification failed: \(path) on disk (\(onDisk) bytes, sha256 \(sha.prefix(12))…) differs from what "
                    + "was written (\(size) bytes, sha256 \(expected.prefix(12))…)",
                hint: "the disk or filesystem may be failing; check dmesg and try another --dir")
        }
        do {
            if let stream { try stream.codec.checkOnDisk(fd: fd, path: path, size: size, check: stream) }
        } catch {
            lister?.abandon()
            throw error
        }
        var verification = Manifest.Verification(
            verifiedAt: BackupName.isoString(Date()), sha256Reread: true,
            gzipComplete: stream != nil ? true : nil)
        if let lister {
            verification.tocEntries = try lister.finish()
            verification.pgRestoreList = true
        }
        return verification
    }

    /// The gzip members on disk, walked by their headers and trailers (`GzipMember.walk`): they must
    /// tile the file, and their CRC-32s and lengths must add up to the stream that was written.
    static func checkGzipFrame(fd: Int32, path: String, size: Int64, trailer: GzipTrailer) throws {
        try GzipMember.walk(fd: fd, path: path, size: size, crc32: trailer.crc32, input: trailer.uncompressedBytes)
    }

    /// A SQL script from pg_dump or pg_dumpall is complete only if it ends with its "dump complete" line.
    public static func checkSQLTrailer(_ tail: [UInt8], path: String) throws {
        let text = String(decoding: tail, as: UTF8.self)
        guard sqlTrailers.contains(where: { text.contains($0) }) else {
            throw PGKeepError(
                .backup,
                "verification failed: \(path) does not end with pg_dump's \"dump complete\" line; the SQL script is "
                    + "incomplete"
            )
        }
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
                    guard fd >= 0 else {
                        throw PGKeepError(.backup, "verification cannot open \(filePath): \(errnoText())")
                    }
                    defer { close(fd) }
                    let entry: Manifest.FileEntry
                    if name.hasSuffix(".gz") {
                        let r = try GzipReader.decompress(fd: fd, path: filePath) { _ in true }
                        entry = Manifest.FileEntry(path: name, size: r.compressedBytes, sha256: r.sha256)
                    } else {
                        let (sha, size) = try hashChunks(of: fd, path: filePath)
                        entry = Manifest.FileEntry(path: name, size: size, sha256: sha)
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
            verification: Manifest.Verification(
                verifiedAt: BackupName.isoString(Date()), sha256Reread: true,
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
        listing.split(separator: "\n").filter { !$0.hasPrefix(";") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .count
    }
}
