import CDeflate
import Foundation

/// Streams a gzip file of one or more members: every byte is hashed (SHA-256 of the compressed
/// file), every member is decompressed to its end and its CRC-32 and length checked, and the
/// output is handed to `consume` in chunks, the members one after the other as gunzip reads them.
/// pgkeep's own members (`GzipMember`) are taken whole and decompressed by libdeflate; any other
/// member (stock gzip, pigz, pg_dump's directory files, pgkeep's files from before libdeflate) goes
/// through zlib (`GzipInflater`), so a file may mix the two. A stream that stops inside a member is
/// reported as truncated; bytes after the last member that do not start another are refused.
///
/// When `consume` returns false it has seen enough: the rest of the file is still read and
/// hashed, but no longer decompressed, and `complete` is false.
public enum GzipReader {
    private enum Mode {
        /// Between members: `head` collects the next one's first bytes until they say whose it is.
        case boundary
        case pgkeep(GzipMember.Lengths)
        case zlib
    }

    public static func decompress(
        fd: Int32, path: String, hashing: Bool = true,
        consume: (UnsafeRawBufferPointer) throws -> Bool
    ) throws -> DecompressedStream {
        let inflater = try GzipInflater(path: path)
        guard let decompressor = libdeflate_alloc_decompressor() else {
            throw PGKeepError(.backup, "libdeflate could not start a decompressor (out of memory?)")
        }
        let member = GrowingBuffer()
        let output = GrowingBuffer()
        defer { libdeflate_free_decompressor(decompressor) }
        var mode = Mode.boundary
        var head: [UInt8] = []
        var memberStart: Int64 = 0
        var memberFill = 0
        var membersEnded = 0
        // The last member read was pgkeep's and not marked last: the file stops short of pgkeep's end.
        var pgkeepOpen = false
        var compressed: Int64 = 0
        var uncompressed: Int64 = 0
        var inflating = true

        func hand(_ bytes: UnsafeRawBufferPointer) throws -> Bool {
            uncompressed += Int64(bytes.count)
            return try consume(bytes)
        }

        /// zlib's share: returns the bytes used; at the member's end, back to the boundary.
        func feedZlib(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws -> Int {
            let r = try inflater.feed(bytes, offset: offset, consume: hand)
            if r.stopped { inflating = false }
            if r.ended {
                membersEnded += 1
                pgkeepOpen = false
                mode = .boundary
                memberStart = offset + Int64(r.used)
            }
            return r.used
        }

        /// libdeflate's share: the whole member at once, which must be used exactly and give exactly
        /// the length its header says (libdeflate checks the CRC-32 and ISIZE in its trailer).
        func finishPgkeep(_ lengths: GzipMember.Lengths) throws {
            let out = output.reserve(max(lengths.input, 1))
            var used = 0
            var produced = 0
            let rc = libdeflate_gzip_decompress_ex(
                decompressor, member.pointer, lengths.member, out, lengths.input, &used, &produced)
            guard rc == LIBDEFLATE_SUCCESS, used == lengths.member, produced == lengths.input else {
                let why =
                    rc != LIBDEFLATE_SUCCESS
                    ? "libdeflate found bad data or a wrong CRC-32 (result \(rc.rawValue))"
                    : "\(used) of \(lengths.member) bytes used, \(produced) of \(lengths.input) bytes out"
                throw PGKeepError(
                    .backup,
                    "\(path) is corrupt: gzip member \(membersEnded + 1) at byte \(memberStart) does not decompress: \(why)"
                )
            }
            membersEnded += 1
            pgkeepOpen = !lengths.last
            mode = .boundary
            memberStart += Int64(lengths.member)
            if produced > 0, try !hand(UnsafeRawBufferPointer(start: out, count: produced)) { inflating = false }
        }

        func process(_ chunk: UnsafeRawBufferPointer, at start: Int64) throws {
            var i = 0
            while inflating && i < chunk.count {
                switch mode {
                case .boundary:
                    if head.isEmpty {
                        memberStart = start + Int64(i)
                        // A new member must start with the gzip magic; anything else is garbage.
                        if membersEnded > 0 && chunk[i] != 0x1f {
                            throw PGKeepError(
                                .backup, "\(path) has data after the end of its gzip stream (at byte \(memberStart))")
                        }
                    }
                    head.append(chunk[i])
                    i += 1
                    switch head.withUnsafeBytes({ GzipMember.classify($0) }) {
                    case .needMore: break
                    case .invalid(let why):
                        throw PGKeepError(.backup, "\(path) is corrupt: gzip member at byte \(memberStart): \(why)")
                    case .pgkeep(let lengths):
                        let buffer = member.reserve(lengths.member)
                        head.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                        memberFill = head.count
                        head = []
                        mode = .pgkeep(lengths)
                    case .foreign:
                        inflater.reset()
                        mode = .zlib
                        let bytes = head
                        head = []
                        let used = try bytes.withUnsafeBytes { try feedZlib($0, at: memberStart) }
                        // A member shorter than the bytes that told it apart: the rest starts the next one.
                        if case .boundary = mode, used < bytes.count { head = Array(bytes[used...]) }
                    }
                case .pgkeep(let lengths):
                    let take = min(lengths.member - memberFill, chunk.count - i)
                    (member.pointer + memberFill).copyMemory(from: chunk.baseAddress! + i, byteCount: take)
                    memberFill += take
                    i += take
                    if memberFill == lengths.member { try finishPgkeep(lengths) }
                case .zlib:
                    i += try feedZlib(UnsafeRawBufferPointer(rebasing: chunk[i...]), at: start + Int64(i))
                }
            }
        }

        let sha = try hashChunks(of: fd, path: path, hashing: hashing) { chunk in
            let start = compressed
            compressed += Int64(chunk.count)
            if inflating { try process(chunk, at: start) }
            // Not hashing, the rest of the file is of no use once the consumer has enough.
            if !inflating && !hashing { throw StopReading() }
        }.sha256
        if !inflating {
            return DecompressedStream(
                compressedBytes: compressed, uncompressedBytes: uncompressed, sha256: sha, complete: false)
        }
        var ended = membersEnded > 0 && head.isEmpty
        if case .boundary = mode {} else { ended = false }
        guard ended else {
            throw PGKeepError(
                .backup, "\(path) is truncated: the gzip stream ends before its end marker (\(compressed) bytes read)")
        }
        guard !pgkeepOpen else {
            throw PGKeepError(
                .backup,
                "\(path) is truncated: it ends after gzip member \(membersEnded), which pgkeep did not mark as the "
                    + "last of its stream (\(compressed) bytes read)")
        }
        return DecompressedStream(
            compressedBytes: compressed, uncompressedBytes: uncompressed, sha256: sha, complete: true)
    }
}

/// A buffer that grows to the largest size asked of it (a member, its output) and is reused.
final class GrowingBuffer {
    private(set) var pointer = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16)
    private var capacity = 1

    func reserve(_ count: Int) -> UnsafeMutableRawPointer {
        if count > capacity {
            pointer.deallocate()
            pointer = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 16)
            capacity = count
        }
        return pointer
    }

    deinit { pointer.deallocate() }
}
