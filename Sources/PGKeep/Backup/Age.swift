import Foundation

/// The `age` tool (Debian package `age`), driven as a subprocess like pg_dump: it encrypts the
/// compressed stream to public recipients at backup time and decrypts with an identity file at
/// restore time. Only public keys ever reach its argv; the identity is a file path, never a key.
public struct AgeTool: Sendable {
    public let path: String
    /// The first line of every age file.
    public static let header = Array("age-encryption.org/v1\n".utf8)

    public init(environment: [String: String]) throws {
        let dirs = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init) + ["/usr/bin"]
        guard let found = dirs.map({ ($0 as NSString).appendingPathComponent("age") })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw PGKeepError(.preflight, "age not found on PATH (needed to encrypt or decrypt backups)",
                              hint: "install it: apt-get install age")
        }
        path = found
    }

    /// Accepts age X25519 recipients (`age1...`) and SSH public keys; refuses what is obviously a
    /// secret, so that it cannot end up in argv or a manifest.
    public static func checkRecipient(_ r: String) throws {
        if r.uppercased().hasPrefix("AGE-SECRET-KEY-") {
            throw PGKeepError(.usage, "--encrypt-to got a secret key (AGE-SECRET-KEY-...); give the public recipient (age1...), which `age-keygen -y KEYFILE` prints")
        }
        guard r.hasPrefix("age1") || r.hasPrefix("ssh-ed25519 ") || r.hasPrefix("ssh-rsa ") else {
            throw PGKeepError(.usage, "--encrypt-to \(r): not an age recipient (age1...) or an SSH public key (ssh-ed25519 ...)")
        }
    }

    /// `age -e -r R...`: plaintext on stdin, ciphertext on stdout.
    public func encrypt(recipients: [String], environment: [String: String]) -> Command {
        Command(executable: path, arguments: ["--encrypt"] + recipients.flatMap { ["--recipient", $0] }, environment: environment)
    }

    /// `age -d -i FILE -o OUT IN`.
    public func decrypt(_ input: String, identity: String, output: String, environment: [String: String]) throws {
        guard FileManager.default.isReadableFile(atPath: identity) else {
            throw PGKeepError(.usage, "cannot read the identity file \(identity)", hint: "give the age key file (age-keygen -o FILE) that matches one of the backup's recipients")
        }
        let command = Command(executable: path, arguments: ["--decrypt", "--identity", identity, "--output", output, input], environment: environment)
        let (_, result) = try ChildProcess.capture(command)
        guard result.succeeded else {
            let why = result.stderr.contains("no identity matched") ? "the identity \(identity) is not one of its recipients" : result.stderrTail(lines: 2)
            throw PGKeepError(.backup, "cannot decrypt \(input): \(why); the target was not touched",
                              command: command.description,
                              hint: "use the key of a recipient listed in the manifest (`age-keygen -y KEYFILE` prints a key's recipient)")
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
        return Command(executable: "/usr/bin/script", arguments: ["-qec", scriptLine(arguments), "/dev/null"], environment: environment)
    }

    /// Reads a passphrase file (one line; the newline is not part of it) and registers it for redaction.
    public static func readPassphrase(_ file: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw PGKeepError(.usage, "cannot read the passphrase file \(file)")
        }
        var text = String(decoding: data, as: UTF8.self)
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        guard !text.isEmpty, !text.contains("\n") else {
            throw PGKeepError(.usage, "the passphrase file \(file) must hold one non-empty line")
        }
        Redaction.shared.register(text)
        return text
    }

    /// `age -d` of a passphrase-encrypted file into `output`.
    public func decrypt(_ input: String, passphrase: String, output: String, environment: [String: String]) throws {
        let command = try underTerminal(["--decrypt", "--output", output, input], environment: environment)
        let child = ChildProcess(command, stdin: .pipe, stdout: .collect)
        try child.start()
        _ = Data((passphrase + "\n").utf8).withUnsafeBytes { FileSystem.writeUntilClosed(child.stdinDescriptor, $0) }
        child.closeStdin()
        let result = child.wait()
        guard result.succeeded else {
            let said = String(decoding: result.stdout, as: UTF8.self)
            let why = said.contains("incorrect passphrase") ? "the passphrase is not the one it was encrypted with"
                : said.contains("identity") ? "it is not passphrase-encrypted (use --identity)" : "age \(result.termination)"
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
}
