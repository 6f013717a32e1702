import Foundation

extension RestoreInput {
    /// Checks the backup before the target is touched; returns what was checked, for the output.
    ///
    /// With a pgkeep manifest: the SHA-256 and size of the file (of every file, for a directory)
    /// must match it. Without one: a gzip or zstd file is decompressed to its end; an archive must be read
    /// by `pg_restore --list` (a compressed one while it is decompressed); a SQL script must end with
    /// pg_dump's "dump complete" line, so that a dump cut short is never restored as if whole.
    public func check(listCommand: (String?) throws -> Command) throws -> String {
        if let manifest { return try checkAgainst(manifest) }
        do {
            return try readWhole(reader: listCommand, readerDoes: "pg_restore --list read the table of contents")
        } catch let damage as ContentDamage {
            throw refusal(damage.reason)
        }
    }

    /// Reads the whole backup as a restore would: a compressed stream to its end (its checksums), an
    /// archive through `reader` (a pg_restore command, fed on stdin, or given the directory), a SQL
    /// script to pg_dump's closing line. Damage is thrown as `ContentDamage`, for the caller to
    /// word (restore refuses; verify reports). `readerDoes` says what `reader` checks.
    func readWhole(reader: (String?) throws -> Command, readerDoes: String) throws -> String {
        var lister: PGRestoreReader?
        var tail = StreamTail()
        let consume: (UnsafeRawBufferPointer) -> Bool = { chunk in
            lister?.feed(chunk)
            tail.keep(chunk)
            return true
        }
        /// The reader's verdict, as damage when it could not read the archive.
        func finishReader(_ lister: PGRestoreReader) throws {
            do { _ = try lister.finish() } catch let error as PGKeepError {
                let said = error.stderrTail?.split(separator: "\n").suffix(2).joined(separator: " ") ?? ""
                throw ContentDamage(reason: "pg_restore cannot read it" + (said.isEmpty ? "" : ": " + said))
            }
        }
        if let codec = kind.codec {
            if kind.isArchive { lister = try PGRestoreReader(command: try reader(nil)) }
            let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                lister?.abandon()
                throw PGKeepError(.backup, "cannot open \(path): \(errnoText())")
            }
            defer { close(fd) }
            let r: DecompressedStream
            do {
                r = try codec.decompress(fd: fd, path: path, consume: consume)
            } catch let error as PGKeepError {
                lister?.abandon()
                throw ContentDamage(reason: error.message)
            }
            guard r.uncompressedBytes > 0 else {
                lister?.abandon()
                throw ContentDamage(reason: "\(path) decompresses to nothing")
            }
            if let lister { try finishReader(lister) }
            if kind.isScript { try requireTrailer(tail.bytes) }
            return "\(codec.rawValue) stream read to its end (\(r.uncompressedBytes) bytes)"
                + (kind.isArchive ? "; " + readerDoes : "")
        }
        switch kind.container {
        case .custom, .tar:
            // Streamed on stdin, so the same check works for a pg_restore inside a container.
            let lister = try PGRestoreReader(command: try reader(nil))
            let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                lister.abandon()
                throw PGKeepError(.backup, "cannot open \(path): \(errnoText())")
            }
            defer { close(fd) }
            _ = try hashChunks(of: fd, path: path) { lister.feed($0) }
            try finishReader(lister)
            return readerDoes
        case .directory:
            let (_, result) = try ChildProcess.capture(try reader(path))
            guard result.succeeded else {
                throw ContentDamage(reason: "pg_restore cannot read \(path): \(result.stderrTail(lines: 2))")
            }
            return readerDoes
        case .encrypted:
            throw PGKeepError(
                .usage,
                "\(path) is encrypted with age: give --identity FILE (or --passphrase-file) to decrypt it first; the "
                    + "target was not touched"
            )
        case .plain:
            let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw PGKeepError(.backup, "cannot open \(path): \(errnoText())") }
            defer { close(fd) }
            _ = try hashChunks(of: fd, path: path) { _ = consume($0) }
            try requireTrailer(tail.bytes)
            return "SQL script ends with pg_dump's \"dump complete\" line"
        }
    }

    func checkAgainst(_ manifest: Manifest) throws -> String {
        if kind == .directory {
            for file in manifest.files ?? [] {
                try requireMatch(
                    (path as NSString).appendingPathComponent(file.path), size: file.size, sha256: file.sha256)
            }
            return "every file matches the manifest's sha256"
        }
        try requireMatch(path, size: manifest.size, sha256: manifest.sha256)
        return "sha256 matches the manifest"
    }

    /// The file at `p` has exactly this size and SHA-256, or the restore is refused.
    private func requireMatch(_ p: String, size expectedSize: Int64, sha256 expected: String) throws {
        let fd = Foundation.open(p, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw refusal("cannot open \(p), which the manifest lists: \(errnoText())") }
        defer { close(fd) }
        let (sha, size) = try hashChunks(of: fd, path: p)
        try requireMatch(p, sha256: sha, size: size, expected: (expected, expectedSize))
    }

    /// What was read of `p` (its sha256 and size) is what the manifest says, or the restore is refused.
    func requireMatch(_ p: String, sha256: String, size: Int64, expected: (sha256: String, size: Int64)) throws {
        guard sha256 != expected.sha256 || size != expected.size else { return }
        throw refusal(
            "\(p) does not match its manifest: \(size) bytes with sha256 \(sha256.prefix(12))…, expected "
                + "\(expected.size) bytes with sha256 \(expected.sha256.prefix(12))…")
    }

    private func requireTrailer(_ tail: [UInt8]) throws {
        do {
            try Verifier.checkSQLTrailer(tail, path: path)
        } catch let error as PGKeepError {
            throw ContentDamage(reason: error.message.replacingOccurrences(of: "verification failed: ", with: ""))
        }
    }

    /// A refusal says that nothing was touched.
    func refusal(_ what: String) -> PGKeepError {
        PGKeepError(
            .backup, "the backup is damaged, refusing to restore: \(what); the target was not touched",
            hint: "restore an earlier backup (pgkeep keeps several) or take a new one")
    }
}

/// Why a backup cannot be read whole, before it is worded for restore (a refusal) or verify.
struct ContentDamage: Error {
    let reason: String
}
