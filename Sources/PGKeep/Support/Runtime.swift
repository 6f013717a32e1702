import Foundation

/// Process-wide setup, the first thing `main` does (before the command line is parsed).
public enum Runtime {
    /// umask 077, so that whatever pgkeep and its children create (pg_dump's directory-format
    /// files included) is private from the first byte; then SIGINT/SIGTERM/SIGPIPE handling.
    public static func prepare() {
        umask(0o077)
        Cancellation.shared.install()
    }
}
