import CZlib
import Foundation

/// pgkeep's gzip member: one complete RFC 1952 member per block of input, marked so a reader
/// knows it cheaply. The header carries an FEXTRA field with one subfield, `PK`, whose 12 bytes
/// are the tag `PGK1`, the member's whole length (header to trailer) and its uncompressed length,
/// both little-endian 32-bit. Stock readers skip the field (RFC 1952 says they must); pgkeep's
/// reader takes the whole member at once and decompresses it with libdeflate, and the verifier
/// walks a file member by member without inflating anything.
///
/// ```
/// 1f 8b 08 04 | 00 00 00 00 | XFL 03 | 10 00 | 'P' 'K' 0c 00 | 'P' 'G' 'K' '1'|'E' | LENGTH | ISIZE
/// raw deflate … | CRC-32 | ISIZE
/// ```
enum GzipMember {
    static let headerSize = 28
    static let trailerSize = 8
    /// The most input a member may hold; the writer's blocks are far smaller. A header claiming
    /// more is not pgkeep's (and would make the reader allocate without bound).
    static let maxInput = 64 << 20
    /// The bytes that make a header pgkeep's, by offset (mtime, XFL and OS say nothing about it).
    private static let fixed: [(Int, UInt8)] =
        [(0, 0x1f), (1, 0x8b), (2, 8), (3, 4), (10, 16), (11, 0)]
        + [(12, 0x50), (13, 0x4b), (14, 12), (15, 0), (16, 0x50), (17, 0x47), (18, 0x4b)]
    private static let more: UInt8 = 0x31  // "1"
    private static let last: UInt8 = 0x45  // "E"

    /// A pgkeep header's two lengths.
    struct Lengths: Equatable {
        /// The member's bytes, header to trailer.
        var member: Int
        var input: Int
        /// The stream's last member.
        var last: Bool
    }

    /// What a member's first bytes say.
    enum Head: Equatable {
        case pgkeep(Lengths)
        /// Any other gzip member (stock gzip, pigz, pg_dump's own): zlib reads it.
        case foreign
        /// Too few bytes yet to tell.
        case needMore
        /// pgkeep's mark with lengths no pgkeep writer makes: a damaged header.
        case invalid(String)
    }

    /// The header for a member of `deflated` raw deflate bytes holding `input` bytes.
    static func header(level: Int32, deflated: Int, input: Int, last: Bool) -> [UInt8] {
        // XFL as gzip sets it: 2 for the slowest levels, 4 for the fastest.
        let xfl: UInt8 = level >= 9 ? 2 : (level == 1 ? 4 : 0)
        var bytes: [UInt8] = [0x1f, 0x8b, 8, 4, 0, 0, 0, 0, xfl, 3, 16, 0, 0x50, 0x4b, 12, 0, 0x50, 0x47, 0x4b]
        bytes.append(last ? Self.last : more)
        appendLE(&bytes, UInt32(headerSize + deflated + trailerSize))
        appendLE(&bytes, UInt32(input))
        return bytes
    }

    static func trailer(crc: UInt32, input: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        appendLE(&bytes, crc)
        appendLE(&bytes, UInt32(truncatingIfNeeded: input))
        return bytes
    }

    /// Classifies the first bytes of a member. A header that is pgkeep's in every fixed byte but
    /// claims impossible lengths is `.invalid`, so no header makes pgkeep allocate more than
    /// `maxInput`, and a damaged length is refused rather than read some other way.
    static func classify(_ head: UnsafeRawBufferPointer) -> Head {
        for (offset, byte) in fixed {
            if offset >= head.count { return .needMore }
            if head[offset] != byte { return .foreign }
        }
        if head.count > 19 && head[19] != more && head[19] != last { return .foreign }
        guard head.count >= headerSize else { return .needMore }
        let member = Int(readLE(head, 20))
        let input = Int(readLE(head, 24))
        let smallest = headerSize + trailerSize + 2
        guard input <= maxInput, member >= smallest, member <= maxInput + maxInput / 8 + 1024 else {
            return .invalid("its pgkeep header claims \(member) bytes holding \(input)")
        }
        return .pgkeep(Lengths(member: member, input: input, last: head[19] == last))
    }

    static func appendLE(_ bytes: inout [UInt8], _ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    static func readLE(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << UInt32(8 * $1) }
    }

    /// Walks the file on disk member by member (headers and trailers only, nothing inflated):
    /// every member must be pgkeep's, the members must tile the file exactly, each trailer's length
    /// must be its header's, only the last must carry the last member's mark, and the CRC-32s
    /// combined in order and the lengths summed must be the stream the writer wrote. Returns the
    /// number of members.
    @discardableResult
    static func walk(fd: Int32, path: String, size: Int64, crc32 expected: UInt32, input expectedInput: Int64) throws
        -> Int
    {
        func refuse(_ what: String) -> PGKeepError {
            PGKeepError(
                .backup,
                "verification failed: the gzip members of \(path) do not match the stream that was written: \(what)",
                hint: "the disk or filesystem may be failing; check dmesg and try another --dir")
        }
        var offset: Int64 = 0
        var combined: UInt = 0
        var total: Int64 = 0
        var members = 0
        var head = [UInt8](repeating: 0, count: headerSize)
        var tail = [UInt8](repeating: 0, count: trailerSize)
        while offset < size {
            guard pread(fd, &head, headerSize, off_t(offset)) == headerSize,
                case .pgkeep(let lengths) = head.withUnsafeBytes({ classify($0) })
            else { throw refuse("no pgkeep member header at byte \(offset)") }
            let end = offset + Int64(lengths.member)
            guard end <= size, pread(fd, &tail, trailerSize, off_t(end - 8)) == trailerSize else {
                throw refuse("member \(members) at byte \(offset) runs past the end of the file")
            }
            let (crc, isize) = tail.withUnsafeBytes { (readLE($0, 0), readLE($0, 4)) }
            guard isize == UInt32(truncatingIfNeeded: lengths.input) else {
                throw refuse("member \(members) at byte \(offset): trailer length \(isize), header \(lengths.input)")
            }
            guard lengths.last == (end == size) else {
                throw refuse(
                    "member \(members) at byte \(offset) \(lengths.last ? "is marked last" : "is not marked last")")
            }
            combined = members == 0 ? UInt(crc) : UInt(crc32_combine(uLong(combined), uLong(crc), off_t(lengths.input)))
            total += Int64(lengths.input)
            members += 1
            offset = end
        }
        guard members > 0, UInt32(truncatingIfNeeded: combined) == expected, total == expectedInput else {
            throw refuse(
                "\(members) members, \(total) bytes, combined CRC-32 \(combined) (written: \(expectedInput) bytes)")
        }
        return members
    }
}
