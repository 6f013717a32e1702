import Foundation

/// Writes to stdout and stderr with write(2). Foundation's FileHandle.write traps on EPIPE
/// (`pgkeep list | head` would crash); here a closed reader only ends the output.
public enum Console {
    public static func out(_ text: String) { write(STDOUT_FILENO, text) }
    public static func err(_ text: String) { write(STDERR_FILENO, text) }

    /// The text's own UTF-8 bytes, without a copy (list writes tens of megabytes at once).
    private static func write(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { _ = FileSystem.writeUntilClosed(fd, UnsafeRawBufferPointer($0)) }
    }

    public static func write(_ fd: Int32, _ data: Data) {
        // EPIPE or another error: nothing more to say to this reader.
        _ = data.withUnsafeBytes { FileSystem.writeUntilClosed(fd, $0) }
    }
}

/// Sizes for people: B, kB, MB, GB (decimal).
public enum ByteCount {
    public static func text(_ bytes: Int64) -> String {
        if bytes >= 1_000_000_000 { return fixed(bytes, unit: 1_000_000_000, decimals: 2) + " GB" }
        if bytes >= 1_000_000 { return fixed(bytes, unit: 1_000_000, decimals: 1) + " MB" }
        if bytes >= 1_000 { return fixed(bytes, unit: 1_000, decimals: 1) + " kB" }
        return "\(bytes) B"
    }

    /// bytes / unit rounded half up to `decimals` places, as `%.Nf` prints it (without String(format:),
    /// which list would call 100,000 times).
    static func fixed(_ bytes: Int64, unit: Int64, decimals: Int) -> String {
        let scale: Int64 = decimals == 2 ? 100 : 10
        let scaled = (bytes * scale + unit / 2) / unit
        let fraction = String(scaled % scale)
        return String(scaled / scale) + "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
}
