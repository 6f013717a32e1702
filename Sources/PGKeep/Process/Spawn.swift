import CPGKeep
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The pipes between pgkeep and one child. Every descriptor is created close-on-exec; the
/// child's ends reach it through dup2 in posix_spawn's file actions, which clears the flag.
struct Pipes {
    var stdinWrite: Int32 = -1
    var stdoutRead: Int32 = -1
    var stderrRead: Int32 = -1
    var stderrWrite: Int32 = -1
    /// What the child gets as stdin and stdout: a pipe end, a caller's descriptor, or -1 (/dev/null).
    var childStdin: Int32 = -1
    var childStdout: Int32 = -1
    private var childEnds: [Int32] = []

    init(input: ChildProcess.Input, output: ChildProcess.Output) throws {
        switch input {
        case .null: break
        case .pipe:
            let (r, w) = try Self.make()
            (childStdin, stdinWrite) = (r, w)
            childEnds.append(r)
            // Bigger pipes: fewer wake-ups per megabyte on the hot paths (best effort).
            _ = fcntl(w, Self.setPipeSize, 1 << 20)
        case .fileDescriptor(let fd): childStdin = fd
        }
        switch output {
        case .null: break
        case .pipe, .collect:
            let (r, w) = try Self.make()
            (stdoutRead, childStdout) = (r, w)
            childEnds.append(w)
            _ = fcntl(r, Self.setPipeSize, 1 << 20)
        case .fileDescriptor(let fd): childStdout = fd
        }
        (stderrRead, stderrWrite) = try Self.make()
        childEnds.append(stderrWrite)
    }

    /// F_SETPIPE_SZ (1031), which Glibc does not export to Swift.
    static let setPipeSize: Int32 = 1031

    static func make() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard pgkeep_pipe_cloexec(&fds) == 0 else {
            throw PGKeepError(.backup, "cannot create a pipe: \(errnoText())")
        }
        return (fds[0], fds[1])
    }

    /// After the spawn: the child has its ends; pgkeep closes them, so EOF arrives when it exits.
    func closeChildEnds() {
        for fd in childEnds { close(fd) }
    }

    func closeAll() {
        closeChildEnds()
        for fd in [stdinWrite, stdoutRead, stderrRead] where fd >= 0 { close(fd) }
    }
}

/// posix_spawn with what every child of pgkeep needs.
enum Spawn {
    /// Starts `command` with the given descriptors as 0, 1 and 2 (-1: /dev/null), in a new process
    /// group, with default signal dispositions and an empty mask; returns its pid.
    static func run(_ command: Command, stdin: Int32, stdout: Int32, stderr: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, target, flags) in [(stdin, Int32(0), O_RDONLY), (stdout, 1, O_WRONLY), (stderr, 2, O_WRONLY)] {
            if fd >= 0 {
                posix_spawn_file_actions_adddup2(&actions, fd, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", flags, 0)
            }
        }
        // Nothing else of pgkeep's reaches the child, whatever its close-on-exec flag.
        _ = pgkeep_spawn_closefrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = ([command.executable] + command.arguments).map { strdup($0) } + [nil]
        let envp = command.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, command.executable, &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw PGKeepError(
                .preflight, "cannot start \(command.executable): \(String(cString: strerror(rc)))",
                command: command.description)
        }
        return pid
    }
}
