import Foundation

/// Reads the fields of `ManifestSummary` from a manifest's bytes in one pass, validating the
/// whole document as JSON (RFC 8259) on the way: what it accepts, JSONDecoder accepts too, and it
/// is several times faster (list, prune and status read 100,000 manifests). It returns nil for
/// anything it does not accept; the caller then asks JSONDecoder, so the two never disagree on
/// what counts as a manifest.
struct ManifestSummaryParser {
    private let bytes: UnsafeRawBufferPointer
    private var at = 0

    static func parse(_ bytes: UnsafeRawBufferPointer) -> ManifestSummary? {
        var parser = ManifestSummaryParser(bytes: bytes)
        return parser.document()
    }

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private enum Field: Int {
        case database, file, format, size, label, pinned, anomalies, accepted, baseline, finished, duration
    }
    private static let fields: [String: Field] = [
        "database": .database, "file": .file, "format": .format, "size": .size, "label": .label,
        "pinned": .pinned, "anomalies": .anomalies, "shrink_accepted": .accepted, "shrink_baseline": .baseline,
        "finished_at": .finished, "duration_seconds": .duration,
    ]

    private mutating func document() -> ManifestSummary? {
        var database: String?
        var file: String?
        var format: BackupFormat?
        var size: Int64?
        var pinned: Bool?
        var label: String?
        var anomalies: [String]?
        var accepted: Bool?
        var baseline: String?
        var finished: String?
        var duration: Double?
        space()
        guard take(UInt8(ascii: "{")) else { return nil }
        space()
        var first = true
        // JSONDecoder takes the first of repeated keys and ignores the rest, whatever their type.
        var seen: UInt32 = 0  // one bit per Field (no set to allocate per manifest)
        while !take(UInt8(ascii: "}")) {
            if !first {
                guard take(UInt8(ascii: ",")) else { return nil }
                space()
            }
            first = false
            guard var field = key() else { return nil }
            space()
            guard take(UInt8(ascii: ":")) else { return nil }
            space()
            if let known = field {
                if seen & (1 << known.rawValue) != 0 { field = nil }
                seen |= 1 << known.rawValue
            }
            switch field {
            case .database?:
                guard let v = string() else { return nil }
                database = v
            case .file?:
                guard let v = string() else { return nil }
                file = v
            case .format?:
                guard let v = string(), let f = BackupFormat(rawValue: v) else { return nil }
                format = f
            case .size?:
                guard let v = integer() else { return nil }
                size = v
            case .pinned?:
                guard let v = boolean() else { return nil }
                pinned = v
            case .label?:
                guard let v = optional({ $0.string() }) else { return nil }
                label = v
            case .accepted?:
                guard let v = optional({ $0.boolean() }) else { return nil }
                accepted = v
            case .baseline?:
                guard let v = optional({ $0.string() }) else { return nil }
                baseline = v
            case .anomalies?:
                guard let v = optional({ $0.strings() }) else { return nil }
                anomalies = v
            case .finished?:
                guard let v = optional({ $0.string() }) else { return nil }
                finished = v
            case .duration?:
                guard let v = optional({ $0.double() }) else { return nil }
                duration = v
            case nil: guard value(depth: 0) else { return nil }
            }
            space()
        }
        space()
        guard at == bytes.count, let database, let file, let format, let size, let pinned else { return nil }
        var summary = ManifestSummary(
            database: database, file: file, format: format, size: size, label: label, pinned: pinned)
        summary.anomalies = anomalies
        summary.shrinkAccepted = accepted
        summary.shrinkBaseline = baseline
        summary.finishedAt = finished
        summary.durationSeconds = duration
        return summary
    }

    private static let fieldBytes: [([UInt8], Field)] = fields.map { (Array($0.key.utf8), $0.value) }

    /// An object key: .some(the field it names) or .some(nil) for a key pgkeep does not read; nil
    /// when it is not a valid JSON string. Compared as bytes: no String per key.
    private mutating func key() -> Field?? {
        guard let (raw, plain) = stringBytes() else { return nil }
        guard plain else { return JSONString.unescape(raw).map { Self.fields[$0] } }
        if raw.count > 0 {
            for (name, field) in Self.fieldBytes where name.count == raw.count {
                if name.withUnsafeBytes({ memcmp($0.baseAddress!, raw.baseAddress!, raw.count) }) == 0 { return field }
            }
        }
        return raw.allSatisfy({ $0 < 0x80 }) || JSONString.text(raw) != nil ? .some(nil) : nil
    }

    private var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

    private mutating func take(_ c: UInt8) -> Bool {
        guard peek == c else { return false }
        at += 1
        return true
    }

    private mutating func space() {
        while let c = peek, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { at += 1 }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard at + n <= bytes.count else { return false }
        for i in 0..<n where bytes[at + i] != word.utf8Start[i] { return false }
        at += n
        return true
    }

    /// `null` gives .some(nil); a value gives .some(value); anything else nil.
    private mutating func optional<T>(_ read: (inout Self) -> T?) -> T?? {
        if literal("null") { return .some(nil) }
        guard let v = read(&self) else { return nil }
        return .some(v)
    }

    private mutating func boolean() -> Bool? {
        if literal("true") { return true }
        if literal("false") { return false }
        return nil
    }

    /// A JSON number that is a whole number in Int64 (as JSONDecoder reads Int64).
    private mutating func integer() -> Int64? {
        let start = at
        guard number() else { return nil }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
        if let n = Int64(text) { return n }
        guard let d = Double(text), d == d.rounded(), abs(d) < 9e18 else { return nil }
        return Int64(d)
    }

    private mutating func double() -> Double? {
        let start = at
        guard number() else { return nil }
        return Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self))
    }

    private mutating func number() -> Bool {
        _ = take(UInt8(ascii: "-"))
        guard let c = peek, c >= 0x30 && c <= 0x39 else { return false }
        if take(0x30) {
        } else {
            while let d = peek, d >= 0x30 && d <= 0x39 { at += 1 }
        }
        if take(UInt8(ascii: ".")) {
            guard digits() else { return false }
        }
        if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
            if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
            guard digits() else { return false }
        }
        return true
    }

    private mutating func digits() -> Bool {
        let start = at
        while let d = peek, d >= 0x30 && d <= 0x39 { at += 1 }
        return at > start
    }

    private mutating func strings() -> [String]? {
        guard take(UInt8(ascii: "[")) else { return nil }
        space()
        var out: [String] = []
        if take(UInt8(ascii: "]")) { return out }
        while true {
            guard let s = string() else { return nil }
            out.append(s)
            space()
            if take(UInt8(ascii: "]")) { return out }
            guard take(UInt8(ascii: ",")) else { return nil }
            space()
        }
    }

    /// A JSON string, unescaped; nil for anything invalid (control characters, bad escapes,
    /// lone surrogates, invalid UTF-8).
    private mutating func string() -> String? {
        guard let (raw, plain) = stringBytes() else { return nil }
        return plain ? JSONString.text(raw) : JSONString.unescape(raw)
    }

    /// A string checked but not built (the values pgkeep does not need).
    private mutating func skipString() -> Bool {
        guard let (raw, plain) = stringBytes() else { return false }
        if plain { return raw.allSatisfy { $0 < 0x80 } || JSONString.text(raw) != nil }
        return JSONString.unescape(raw) != nil
    }

    /// The bytes between the quotes, and whether they hold no escape.
    private mutating func stringBytes() -> (UnsafeRawBufferPointer, Bool)? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = at
        var plain = true
        while let c = peek, c != UInt8(ascii: "\"") {
            if c < 0x20 { return nil }
            if c == UInt8(ascii: "\\") {
                plain = false
                at += 2
            } else {
                at += 1
            }
        }
        guard at < bytes.count else { return nil }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<at])
        at += 1
        return (raw, plain)
    }

    /// Any JSON value, checked and skipped (nesting bounded, as JSONDecoder bounds it).
    private mutating func value(depth: Int) -> Bool {
        guard depth < 512, let c = peek else { return false }
        switch c {
        case UInt8(ascii: "\""): return skipString()
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            let object = c == UInt8(ascii: "{")
            let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
            at += 1
            space()
            if take(close) { return true }
            while true {
                if object {
                    guard skipString() else { return false }
                    space()
                    guard take(UInt8(ascii: ":")) else { return false }
                    space()
                }
                guard value(depth: depth + 1) else { return false }
                space()
                if take(close) { return true }
                guard take(UInt8(ascii: ",")) else { return false }
                space()
            }
        default: return number()
        }
    }
}
