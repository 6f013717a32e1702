import Foundation

/// Hands an alert email to the sendmail interface: the configured program's words (`sendmail` by
/// default, looked up on PATH, then in /usr/sbin and /usr/lib) with `-t` (the recipients come
/// from the headers) and `-i` (a line holding a lone dot is text) added when missing, and the
/// message on stdin. Never through a shell. The program has the monitor's timeout; past it, it is
/// stopped (its process group: SIGTERM, then SIGKILL).
enum Sendmail {
    static let searchPath = ["/usr/sbin", "/usr/lib", "/usr/bin", "/bin"]

    /// The command for `words`, nil when its program is nowhere to be found.
    static func command(_ words: [String], environment: [String: String] = ProcessInfo.processInfo.environment)
        -> Command?
    {
        guard let name = words.first else { return nil }
        let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init) + searchPath
        guard let executable = Command.find(name, environment: environment, searchPath: path),
            FileManager.default.isExecutableFile(atPath: executable)
        else { return nil }
        var arguments = Array(words.dropFirst())
        for flag in ["-t", "-i"] where !arguments.contains(flag) { arguments.append(flag) }
        // The mail program gets no password (PGPASSWORD and the like, any registered secret).
        return Command(executable: executable, arguments: arguments, environment: Hooks.scrubbed(environment))
    }

    /// Sends `message`: nil when the program took it (exit 0), else what went wrong.
    static func send(_ message: String, words: [String], within timeout: TimeInterval) -> String? {
        guard let command = command(words) else {
            return "cannot run \(words.first ?? "sendmail"): not found on PATH, in /usr/sbin or in /usr/lib "
                + "(install a mail transfer agent such as msmtp-mta or postfix, or set [monitor] email_sendmail)"
        }
        let child = ChildProcess(command, stdin: .pipe)
        do {
            try child.start()
        } catch let error as PGKeepError {
            return error.message
        } catch {
            return "\(command) did not start: \(error)"
        }
        // Written on a thread of its own: a program that does not read must not block pgkeep once
        // the pipe's 64 KiB are full (it gets EPIPE when the program is stopped).
        Thread { child.writeStdinAndClose(message) }.start()
        guard child.waitForExit(timeout: timeout) else {
            child.terminate(grace: 1)
            child.wait()
            return "\(command) did not finish within \(DurationText.format(timeout)) and was stopped"
        }
        let result = child.wait()
        guard result.succeeded else {
            let tail = result.stderrTail(lines: 3)
            return "\(command) \(result.termination)" + (tail.isEmpty ? "" : ": " + tail)
        }
        return nil
    }
}
