import Foundation

/// A program to run: an argument array (never a shell string) and the environment it gets.
/// `display` is what messages show; secrets never reach argv, so it is the argv itself.
public struct Command: Sendable, CustomStringConvertible {
    public var executable: String
    public var arguments: [String]
    /// The complete environment of the child.
    public var environment: [String: String]
    /// Told when a child of this command has started and when it has been waited for: a docker
    /// compose service counts what may still run inside its container (`ComposeRun`).
    public var observer: (any ChildObserver)?

    public init(
        executable: String, arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
    }

    /// The command line as a user would type it, each argument shell-quoted when needed.
    public var description: String {
        ([executable] + arguments).map(Command.shellQuote).joined(separator: " ")
    }

    /// Where `name` runs from: itself when it holds a `/`, else the first executable of that name
    /// in `searchPath` (by default the PATH of `environment`, then /usr/bin, where Debian puts
    /// pgkeep's helpers). Nil when there is none.
    public static func find(_ name: String, environment: [String: String], searchPath: [String]? = nil) -> String? {
        if name.contains("/") { return name }
        let dirs =
            searchPath ?? ((environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/bin"])
        return dirs.filter { !$0.isEmpty }.map { ($0 as NSString).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func shellQuote(_ s: String) -> String {
        let safe = CharacterSet(
            charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+")
        if !s.isEmpty && s.unicodeScalars.allSatisfy({ safe.contains($0) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Follows the children of one command: `started` once spawned, `ended` once waited for.
public protocol ChildObserver: AnyObject, Sendable {
    func started()
    func ended(_ termination: Termination)
}

/// How a child ended: its exit code, or the signal that killed it.
public enum Termination: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let sig):
            let name = String(cString: strsignal(sig))
            return "was killed by signal \(sig) (\(name))"
        }
    }
}

/// The outcome of a child: the command, how it ended, and the tail of its stderr.
public struct ProcessResult: Sendable {
    public var command: Command
    public var termination: Termination
    public var stderr: String
    /// stdout, when the child was started with `.collect`.
    public var stdout = Data()

    public var succeeded: Bool { termination == .exited(0) }

    /// The last `lines` lines of stderr, for error messages.
    public func stderrTail(lines: Int = 12) -> String {
        let all = stderr.split(separator: "\n", omittingEmptySubsequences: true)
        return all.suffix(lines).joined(separator: "\n")
    }

    /// An error describing this failed child, with its command line and stderr tail.
    public func failure(_ what: String, kind: PGKeepError.Kind = .backup, hint: String? = nil) -> PGKeepError {
        PGKeepError(
            kind, "\(what): \((command.executable as NSString).lastPathComponent) \(termination)",
            command: command.description, stderrTail: stderrTail(), hint: hint)
    }
}
