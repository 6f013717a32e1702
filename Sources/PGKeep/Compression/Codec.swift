import Foundation

/// The compressions pgkeep writes and reads. Either one gives a file the stock tool reads:
/// `gunzip -c` or `zstd -dc`.
public enum Codec: String, Codable, Sendable, CaseIterable {
    case gzip
    case zstd

    /// What the file name ends with after the format's own ending (`.dump.gz`, `.sql.zst`).
    public var fileSuffix: String { self == .gzip ? ".gz" : ".zst" }

    /// The levels the codec takes (gzip's 1-9; zstd's 1-19, without the memory-hungry --ultra ones).
    public var levels: ClosedRange<Int> { self == .gzip ? 1...9 : 1...19 }

    public var defaultLevel: Int { self == .gzip ? 6 : 3 }

    /// The stock command that writes the decompressed stream to stdout.
    public var stockDecompress: String { self == .gzip ? "gunzip -c" : "zstd -dc" }

    /// Reads a compressed stream from `fd` to its end: hashes every byte, decompresses and checks
    /// it (gzip: each member's CRC-32 and length; zstd: each frame's checksum), and hands the
    /// output to `consume` while it returns true. A stream cut short is reported as truncated.
    /// `hashing: false` leaves the SHA-256 out (a restore of a file already checked).
    public func decompress(
        fd: Int32, path: String, hashing: Bool = true, consume: (UnsafeRawBufferPointer) throws -> Bool
    ) throws -> DecompressedStream {
        switch self {
        case .gzip: return try GzipReader.decompress(fd: fd, path: path, hashing: hashing, consume: consume)
        case .zstd: return try ZstdReader.decompress(fd: fd, path: path, hashing: hashing, consume: consume)
        }
    }
}

/// What reading a compressed stream found.
public struct DecompressedStream: Sendable {
    public var compressedBytes: Int64
    public var uncompressedBytes: Int64
    /// SHA-256 of the compressed bytes (the file as it is on disk); empty when not asked for.
    public var sha256: String
    /// The stream was decompressed to its end (consume never returned false).
    public var complete: Bool
}

/// A compression as the user asks for it: `gzip`, `gzip:9`, `zstd`, `zstd:3` or `none`
/// (`--compress`, config `compress`).
public struct CompressionChoice: Sendable, Equatable {
    /// nil: no compression.
    public var codec: Codec?
    public var level: Int

    public init(codec: Codec?, level: Int? = nil) {
        self.codec = codec
        self.level = codec.map { level ?? $0.defaultLevel } ?? 0
    }

    public static func parse(_ text: String) throws -> CompressionChoice {
        let parts = text.lowercased().split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            .map(String.init)
        if parts == ["none"] { return CompressionChoice(codec: nil) }
        guard let name = parts.first, let codec = Codec(rawValue: name) else {
            throw PGKeepError(.usage, "compression \"\(text)\" is not one of gzip[:LEVEL], zstd[:LEVEL] or none")
        }
        guard parts.count == 2 else { return CompressionChoice(codec: codec) }
        guard let level = Int(parts[1]), codec.levels.contains(level) else {
            throw PGKeepError(
                .usage,
                "compression \"\(text)\": the \(codec.rawValue) level must be \(codec.levels.lowerBound) to "
                    + "\(codec.levels.upperBound)")
        }
        return CompressionChoice(codec: codec, level: level)
    }

    public var description: String { codec.map { "\($0.rawValue):\(level)" } ?? "none" }
}
