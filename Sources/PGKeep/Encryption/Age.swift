import Foundation

/// The `age` tool (Debian package `age`), driven as a subprocess like pg_dump: it encrypts the
/// compressed stream to public recipients at backup time and decrypts with an identity file at
/// restore time. Only public keys ever reach its argv; the identity is a file path, never a key.
public struct AgeTool: Sendable {
    public let path: String
    /// The first line of every age file.
    public static let header = Array("age-encryption.org/v1\n".utf8)

    public init(environment: [String: String]) throws {
        guard let found = Command.find("age", environment: environment) else {
            throw PGKeepError(
                .preflight, "age not found on PATH (needed to encrypt or decrypt backups)",
                hint: "install it: apt-get install age")
        }
        path = found
    }

    /// Accepts age X25519 recipients (`age1...`) and SSH public keys; refuses what is obviously a
    /// secret, so that it cannot end up in argv or a manifest.
    public static func checkRecipient(_ r: String) throws {
        if r.uppercased().hasPrefix("AGE-SECRET-KEY-") {
            throw PGKeepError(
                .usage,
                "--encrypt-to got a secret key (AGE-SECRET-KEY-...); give the public recipient (age1...), which "
                    + "`age-keygen -y KEYFILE` prints"
            )
        }
        guard r.hasPrefix("age1") || r.hasPrefix("ssh-ed25519 ") || r.hasPrefix("ssh-rsa ") else {
            throw PGKeepError(
                .usage, "--encrypt-to \(r): not an age recipient (age1...) or an SSH public key (ssh-ed25519 ...)")
        }
    }

    /// `age -e -r R...`: plaintext on stdin, ciphertext on stdout.
    public func encrypt(recipients: [String], environment: [String: String]) -> Command {
        Command(
            executable: path, arguments: ["--encrypt"] + recipients.flatMap { ["--recipient", $0] },
            environment: environment)
    }

    /// `age -d -i FILE -o OUT IN`.
    public func decrypt(_ input: String, identity: String, output: String, environment: [String: String]) throws {
        guard FileManager.default.isReadableFile(atPath: identity) else {
            throw PGKeepError(
                .usage, "cannot read the identity file \(identity)",
                hint: "give the age key file (age-keygen -o FILE) that matches one of the backup's recipients")
        }
        let command = Command(
            executable: path, arguments: ["--decrypt", "--identity", identity, "--output", output, input],
            environment: environment)
        let (_, result) = try ChildProcess.capture(command)
        guard result.succeeded else {
            let why =
                result.stderr.contains("no identity matched")
                ? "the identity \(identity) is not one of its recipients" : result.stderrTail(lines: 2)
            throw PGKeepError(
                .backup, "cannot decrypt \(input): \(why); the target was not touched",
                command: command.description,
                hint:
                    "use the key of a recipient listed in the manifest (`age-keygen -y KEYFILE` prints a key's "
                    + "recipient)"
            )
        }
    }

    /// The shell line `script` runs: age with its arguments, each quoted (paths only, no secret).
    func scriptLine(_ arguments: [String]) -> String {
        "exec " + ([path] + arguments).map(Command.shellQuote).joined(separator: " ")
    }

    /// `script -qec LINE /dev/null`: age under a pseudo-terminal, because age reads passphrases
    /// only from a terminal. The passphrase is written to the terminal (script's stdin), never to
    /// argv; data goes through files or FIFOs named in LINE.
    func underTerminal(_ arguments: [String], environment: [String: String]) throws -> Command {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            throw PGKeepError(.preflight, "/usr/bin/script (util-linux) is needed to give age a passphrase")
        }
        return Command(
            executable: "/usr/bin/script", arguments: ["-qec", scriptLine(arguments), "/dev/null"],
            environment: environment)
    }

    /// Reads a passphrase file (one line; the newline is not part of it) and registers it for redaction.
    public static func readPassphrase(_ file: String) throws -> String {
        guard let text = FileSystem.readSecret(file) else {
            throw PGKeepError(.usage, "cannot read the passphrase file \(file)")
        }
        guard !text.isEmpty, !text.contains("\n") else {
            throw PGKeepError(.usage, "the passphrase file \(file) must hold one non-empty line")
        }
        return text
    }

    /// `age -d` of a passphrase-encrypted file into `output`.
    public func decrypt(_ input: String, passphrase: String, output: String, environment: [String: String]) throws {
        let command = try underTerminal(["--decrypt", "--output", output, input], environment: environment)
        let child = ChildProcess(command, stdin: .pipe, stdout: .collect)
        try child.start()
        child.writeStdinAndClose(passphrase + "\n")
        let result = child.wait()
        guard result.succeeded else {
            let said = String(decoding: result.stdout, as: UTF8.self)
            let why =
                said.contains("incorrect passphrase")
                ? "the passphrase is not the one it was encrypted with"
                : said.contains("identity")
                    ? "it is not passphrase-encrypted (use --identity)" : "age \(result.termination)"
            throw PGKeepError(.backup, "cannot decrypt \(input): \(why); the target was not touched")
        }
    }

    /// Whether the file at `path` starts like an age file.
    public static func isEncrypted(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: header.count)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, header.count, 0) }
        return n == header.count && head == header
    }

    /// Starts `age --encrypt` whose output is copied into `file` on a thread of its own (hashing
    /// what age wrote). With a passphrase, age runs under a pseudo-terminal (it reads passphrases
    /// from a terminal only) and the data go through two FIFOs in a private directory.
    func startEncrypting(
        recipients: [String], passphrase: String?, into file: HashingSink,
        environment env: [String: String]
    ) throws -> Encryptor {
        guard let passphrase else {
            let child = ChildProcess(encrypt(recipients: recipients, environment: env), stdin: .pipe, stdout: .pipe)
            try child.start()
            return Encryptor(
                child: child, input: child.stdinDescriptor, output: child.stdoutDescriptor, fifos: nil, file: file)
        }
        let dir = try makeScratchDirectory()
        do {
            let (inPath, outPath) = (dir + "/plain", dir + "/encrypted")
            guard mkfifo(inPath, 0o600) == 0, mkfifo(outPath, 0o600) == 0 else {
                throw PGKeepError(.backup, "cannot make FIFOs for age in \(dir): \(errnoText())")
            }
            let child = ChildProcess(
                try underTerminal(["--passphrase", "--output", outPath, inPath], environment: env),
                stdin: .pipe, stdout: .collect)
            try child.start()
            // Asked twice: the passphrase and its confirmation.
            child.writeStdinAndClose(passphrase + "\n" + passphrase + "\n")
            let output = Foundation.open(outPath, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            let input = try Encryptor.openForWriting(inPath, while: child)
            return Encryptor(child: child, input: input, output: output, fifos: dir, file: file)
        } catch {
            FileSystem.removeTree(dir)
            throw error
        }
    }
}

/// A running `age --encrypt` and the thread that copies its output into the backup file.
// copyError is written by the copy thread only and read after `done` signals its end;
// outputOpen is a Locked; the rest is set in init or used on the caller's thread only.
final class Encryptor: @unchecked Sendable {
    let child: ChildProcess
    /// Where the plaintext goes (age's stdin, or its input FIFO).
    let input: Int32
    private let output: Int32
    private let fifos: String?
    private let done = DispatchSemaphore(value: 0)
    private var copyError: Error?
    private var inputOpen = true
    private let outputOpen = Locked(true)

    init(child: ChildProcess, input: Int32, output: Int32, fifos: String?, file: HashingSink) {
        self.child = child
        self.input = input
        self.output = output
        self.fifos = fifos
        Thread { [self] in
            do {
                if fifos == nil {
                    _ = try copyStream(from: output, to: file, what: "the output of age")
                } else {
                    try copyFIFO(to: file)
                }
            } catch {
                copyError = error
                // age must not block on a pipe nobody reads: it gets EPIPE, the compressor then too.
                if fifos == nil { child.closeStdout() } else { closeOutput() }
            }
            done.signal()
        }.start()
    }

    /// Reads age's output FIFO (opened non-blocking, so that a reader without a writer yet does
    /// not hang): waits for data while age runs, and stops at end of file once age has written.
    private func copyFIFO(to file: HashingSink) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var seen = false
        while true {
            var p = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 100) > 0 {
                let n = buffer.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
                if n > 0 {
                    seen = true
                    try buffer.withUnsafeBytes { try file.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    continue
                }
                if n == 0 && seen { return }  // age closed its output: the end
                if n < 0 && errno != EAGAIN && errno != EINTR {
                    throw PGKeepError(.backup, "cannot read the output of age: \(errnoText())")
                }
                if n == 0 { usleep(10_000) }  // no writer yet
            }
            // age ended without ever opening its output: finish() reports how it ended.
            if !seen && !child.isRunning { return }
        }
    }

    /// Opens a FIFO for writing once age has opened it for reading (or fails if age ends first).
    static func openForWriting(_ path: String, while child: ChildProcess) throws -> Int32 {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let fd = Foundation.open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
                return fd
            }
            guard errno == ENXIO, child.isRunning else { break }
            usleep(5_000)
        }
        child.terminate(grace: 1)
        let said = String(decoding: child.wait().stdout, as: UTF8.self)
        throw PGKeepError(
            .backup,
            "age did not start reading (passphrase encryption): \(Redaction.shared.applyToChildOutput(said).suffix(300))"
        )
    }

    private func closeInput() {
        guard inputOpen else { return }
        inputOpen = false
        if fifos == nil { child.closeStdin() } else { close(input) }
    }

    /// End of input: waits for age and the copy, and reports either failing.
    func finish() throws {
        closeInput()
        let result = child.wait()
        done.wait()
        cleanUp()
        if let copyError { throw copyError }
        guard result.succeeded else { throw result.failure("age could not encrypt the backup; no backup was recorded") }
    }

    /// A failure elsewhere: stop age and the copy. Returns the copy's own error (a full disk),
    /// which explains the failure better than the broken pipe it caused upstream.
    @discardableResult
    func abandon() -> Error? {
        closeInput()
        child.terminate(grace: 1)
        child.wait()
        done.wait()
        cleanUp()
        return copyError
    }

    private func closeOutput() {
        let wasOpen = outputOpen.withLock { open in
            defer { open = false }
            return open
        }
        if wasOpen { close(output) }
    }

    private func cleanUp() {
        if let fifos {
            closeOutput()
            FileSystem.removeTree(fifos)
        }
    }
}
