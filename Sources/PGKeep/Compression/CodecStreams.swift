import Foundation

/// What each codec does with a stream, in one place: its magic number, its verified writer, the
/// checks of the written file besides its sha256, whether pg_dump's directory format can use it.
/// Adding a codec is a case of `Codec`, a branch in each `switch` here, and its writer and reader
/// files; names, suffixes, detection, `ArchiveKind`, stock commands and every job follow.
extension Codec {
    /// The bytes every stream of this codec starts with.
    public var magic: [UInt8] {
        switch self {
        case .gzip: return [0x1f, 0x8b]
        case .zstd: return [0x28, 0xb5, 0x2f, 0xfd]
        }
    }

    /// The codec whose magic number starts `head`, if any.
    static func detect(_ head: some Collection<UInt8>) -> Codec? {
        let bytes = Array(head.prefix(8))
        return allCases.first { bytes.starts(with: $0.magic) }
    }

    /// pg_dump's directory format compresses its files with it (`--compress=N`).
    public var pgDumpDirectory: Bool {
        switch self {
        case .gzip: return true
        case .zstd: return false
        }
    }

    /// What the verified writer made, for the read-back.
    public struct Written: Sendable {
        public var uncompressedBytes: Int64
        /// The last bytes of the uncompressed stream (a SQL script's closing line).
        public var tail: [UInt8]
        public var check: StreamCheck
    }

    /// What the read-back checks besides the sha256 (gzip: the stream's CRC-32 and length, which its
    /// members' trailers must add up to).
    public struct StreamCheck: Sendable {
        public var codec: Codec
        public var gzipTrailer: Verifier.GzipTrailer?
    }

    /// Compresses `input` into `sink` with the codec's writer, which proves as it writes that its
    /// output decompresses to its input (gzip: each member decompressed again; zstd: a second decoder).
    func compress(
        from input: Int32, level: Int, workers: Int, what: String, to sink: HashingSink,
        progress: (@Sendable (Int64, Int64) -> Void)?
    ) throws -> Written {
        switch self {
        case .gzip:
            let r = try ParallelGzipWriter(level: Int32(level), workers: workers)
                .compress(from: input, what: what, to: sink, progress: progress)
            let trailer = Verifier.GzipTrailer(crc32: r.crc32, uncompressedBytes: r.uncompressedBytes)
            return Written(
                uncompressedBytes: r.uncompressedBytes, tail: r.tail,
                check: StreamCheck(codec: self, gzipTrailer: trailer))
        case .zstd:
            let r = try ZstdWriter(level: Int32(level), workers: workers)
                .compress(from: input, what: what, to: sink, progress: progress)
            return Written(
                uncompressedBytes: r.uncompressedBytes, tail: r.tail, check: StreamCheck(codec: self, gzipTrailer: nil))
        }
    }

    /// The written file's frame, read back from disk: gzip's members' headers and trailers against what was
    /// written; zstd's magic number (its checksums were read with the whole stream).
    func checkOnDisk(fd: Int32, path: String, size: Int64, check: StreamCheck) throws {
        switch self {
        case .gzip:
            guard let trailer = check.gzipTrailer else { return }
            try Verifier.checkGzipFrame(fd: fd, path: path, size: size, trailer: trailer)
        case .zstd:
            var head = [UInt8](repeating: 0, count: 4)
            guard pread(fd, &head, 4, 0) == 4, Codec.detect(head) == .zstd else {
                throw PGKeepError(.backup, "verification failed: \(path) does not start with zstd's magic number")
            }
        }
    }
}
