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
