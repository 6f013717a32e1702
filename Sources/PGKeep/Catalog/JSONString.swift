import Foundation

/// JSON string contents for `ManifestSummaryParser`: decoding escapes and checking UTF-8 as
/// JSONDecoder does.
enum JSONString {
    /// UTF-8 to a String: ASCII directly, anything else validated.
    static func text(_ raw: UnsafeRawBufferPointer) -> String? {
        if raw.allSatisfy({ $0 < 0x80 }) { return String(decoding: raw, as: UTF8.self) }
        return String(validating: raw, as: UTF8.self)
    }

    /// The text of a JSON string's bytes between its quotes; nil for a bad escape, a lone
    /// surrogate or invalid UTF-8.
    static func unescape(_ raw: UnsafeRawBufferPointer) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        var pendingHigh: UInt32?
        while i < raw.count {
            let c = raw[i]
            guard c == UInt8(ascii: "\\") else {
                guard pendingHigh == nil else { return nil }
                out.append(c)
                i += 1
                continue
            }
            guard i + 1 < raw.count else { return nil }
            let e = raw[i + 1]
            i += 2
            if e == UInt8(ascii: "u") {
                // Exactly four hex digits: UInt32(_:radix:) would also take a sign ("\u+041").
                guard i + 4 <= raw.count, let unit = Self.hex4(raw, at: i) else { return nil }
                i += 4
                var scalarValue = unit
                if let high = pendingHigh {
                    guard (0xDC00...0xDFFF).contains(unit) else { return nil }
                    scalarValue = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00)
                    pendingHigh = nil
                } else if (0xD800...0xDBFF).contains(unit) {
                    pendingHigh = unit
                    continue
                } else if (0xDC00...0xDFFF).contains(unit) {
                    return nil
                }
                guard let scalar = Unicode.Scalar(scalarValue) else { return nil }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
                continue
            }
            guard pendingHigh == nil else { return nil }
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            default: return nil
            }
        }
        guard pendingHigh == nil else { return nil }
        return out.withUnsafeBytes { text($0) }
    }

    /// Four hex digits at `i`, or nil.
    static func hex4(_ raw: UnsafeRawBufferPointer, at i: Int) -> UInt32? {
        var value: UInt32 = 0
        for c in raw[i..<i + 4] {
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}
