import Foundation

/// One dump stream into one file: pg_dump's stdout → pgkeep's compressor (gzip: libdeflate in parallel, every
/// member decompressed again and compared as it is made) or zstd (libzstd's threads, the output decompressed
/// again as it is written) → age when encrypting → the file, counted and hashed on the way, then
/// fsynced. Nothing here names or records a backup: the file is a temporary one until
/// `BackupCommit` renames it into place.
struct DumpPipeline {
    /// gzip, zstd or none (the stream copied as it is).
    var compression: CompressionChoice
    var workers: Int
    /// age recipients, or a passphrase; neither: no encryption.
    var recipients: [String] = []
    var passphrase: String?
    /// (bytes dumped, bytes written), as the stream goes.
    var onProgress: (@Sendable (Int64, Int64) -> Void)?

    var encrypted: Bool { !recipients.isEmpty || passphrase != nil }

    /// What went into the file.
    struct Output {
        var uncompressedBytes: Int64
        var size: Int64
        var sha256: String
        /// The compressed stream pgkeep wrote (nil without compression or with encryption, when
        /// the file on disk is not that stream).
        var stream: Codec.StreamCheck?
        var encryption: Manifest.Encryption?
    }

    /// Runs `command` (`what` names it in messages) into the new file `temp`. `sqlScript`: the
    /// stream must end with pg_dump's closing line.
    func run(_ command: Command, what: String, into temp: String, sqlScript: Bool) throws -> Output {
        let fd = try FileSystem.createPrivateFile(temp)
        var fdOpen = true
        defer { if fdOpen { close(fd) } }
        let fileSink = HashingSink(fd: fd, path: temp)
        // compressor → age → (hashed here) → the file. The first sink hashes the plaintext stream;
        // the file's sink hashes the ciphertext age writes.
        let encryptor = try startEncryptor(into: fileSink)
        let sink =
            encryptor.map { HashingSink(fd: $0.input, path: "the input of age (encrypting \(temp))") } ?? fileSink
        let child = ChildProcess(command, stdout: .pipe)
        do {
            try child.start()
        } catch {
            encryptor?.abandon()
            throw error
        }
        let started = Date()
        let stream: (uncompressed: Int64, tail: [UInt8], check: Codec.StreamCheck?)
        do {
            stream = try compress(child.stdoutDescriptor, what: what, to: sink)
        } catch {
            // Our side failed (disk full, write error): stop pg_dump before it blocks on the pipe.
            child.closeStdout()
            child.terminate(grace: 2)
            child.wait()
            throw encryptor?.abandon() ?? error
        }
        child.closeStdout()
        let result = child.wait()
        if !result.succeeded { encryptor?.abandon() }
        Trace.phase("dump+compress", since: started)
        guard result.succeeded else {
            throw result.failure("\(what) failed; no backup was recorded", hint: Self.hint(result.stderr))
        }
        guard stream.uncompressed > 0 else {
            throw PGKeepError(
                .backup, "\(what) produced no output; no backup was recorded", command: command.description)
        }
        if sqlScript { try Verifier.checkSQLTrailer(stream.tail, path: temp) }
        var encryption: Manifest.Encryption?
        if let encryptor {
            try encryptor.finish()
            encryption = Manifest.Encryption(
                recipients: recipients, passphrase: passphrase != nil ? true : nil,
                plaintextSize: sink.bytesWritten, plaintextSha256: sink.finalizeHex())
        }
        let mark = Date()
        try FileSystem.sync(fd, path: temp)
        close(fd)
        fdOpen = false
        Trace.phase("fsync", since: mark)
        return Output(
            uncompressedBytes: stream.uncompressed, size: fileSink.bytesWritten, sha256: fileSink.finalizeHex(),
            stream: encryption == nil ? stream.check : nil, encryption: encryption)
    }

    private func compress(_ input: Int32, what: String, to sink: HashingSink) throws -> (
        uncompressed: Int64, tail: [UInt8], check: Codec.StreamCheck?
    ) {
        guard let codec = compression.codec else {
            let (bytes, tail) = try copyStream(
                from: input, to: sink, what: "the output of \(what)", progress: onProgress)
            return (bytes, tail, nil)
        }
        let written = try codec.compress(
            from: input, level: compression.level, workers: workers, what: "the output of \(what)", to: sink,
            progress: onProgress)
        return (written.uncompressedBytes, written.tail, written.check)
    }

    /// `age --encrypt` between the compressor and the file (nil without encryption).
    private func startEncryptor(into file: HashingSink) throws -> Encryptor? {
        guard encrypted else { return nil }
        let env = ProcessInfo.processInfo.environment
        return try AgeTool(environment: env).startEncrypting(
            recipients: recipients, passphrase: passphrase, into: file, environment: env)
    }

    /// A next step for common pg_dump failures.
    static func hint(_ stderr: String) -> String? {
        if stderr.contains("permission denied") {
            return "connect as a role that can read every object (often the database owner or a superuser), "
                + "or leave the object out with --exclude-table/--schema"
        }
        if stderr.contains("server version") && stderr.contains("mismatch") {
            return "use a pg_dump at least as new as the server (--pg-bin)"
        }
        if stderr.contains("No space left") {
            return "the disk is full"
        }
        return nil
    }
}
