import Foundation

/// Writes to stdout and stderr with write(2). Foundation's FileHandle.write traps on EPIPE
/// (`pgkeep list | head` would crash); here a closed reader only ends the output.
public enum Console {
    public static func out(_ text: String) { write(STDOUT_FILENO, Data(text.utf8)) }
    public static func err(_ text: String) { write(STDERR_FILENO, Data(text.utf8)) }

    public static func write(_ fd: Int32, _ data: Data) {
        // EPIPE or another error: nothing more to say to this reader.
        _ = data.withUnsafeBytes { FileSystem.writeUntilClosed(fd, $0) }
    }
}

/// Sizes for people: B, kB, MB, GB (decimal).
public enum ByteCount {
    public static func text(_ bytes: Int64) -> String {
        let b = Double(bytes)
        if b >= 1_000_000_000 { return String(format: "%.2f GB", b / 1_000_000_000) }
        if b >= 1_000_000 { return String(format: "%.1f MB", b / 1_000_000) }
        if b >= 1_000 { return String(format: "%.1f kB", b / 1_000) }
        return "\(bytes) B"
    }
}
