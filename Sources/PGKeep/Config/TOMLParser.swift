import Foundation

/// A syntax error: where, and what.
public struct TOMLError: Error, Sendable {
    public var line: Int
    public var column: Int
    public var message: String
}

/// A recursive-descent parser over the document's Unicode scalars.
struct TOMLParser {
    private let chars: [Unicode.Scalar]
    private var i = 0
    private var line = 1
    private var lineStart = 0

    init(text: String) { chars = Array(text.unicodeScalars) }

    private var current: Unicode.Scalar? { i < chars.count ? chars[i] : nil }

    private func fail(_ message: String) -> TOMLError {
        TOMLError(line: line, column: i - lineStart + 1, message: message)
    }

    private mutating func advance() {
        if chars[i] == "\n" {
            line += 1
            lineStart = i + 1
        }
        i += 1
    }

    /// Spaces and tabs.
    private mutating func skipBlanks() {
        while let c = current, c == " " || c == "\t" { advance() }
    }

    /// Blanks, then a comment, then the end of the line (or of the file).
    private mutating func endOfLine() throws {
        skipBlanks()
        if current == "#" { skipComment() }
        if current == "\r" { advance() }
        guard let c = current else { return }
        guard c == "\n" else { throw fail("unexpected \"\(c)\" after a value; one key = value per line") }
        advance()
    }

    private mutating func skipComment() {
        while let c = current, c != "\n" {
            advance()
        }
    }

    /// Blank lines, comments and newlines (between entries, and inside arrays).
    private mutating func skipWhitespaceAndComments() {
        while let c = current {
            if c == " " || c == "\t" || c == "\n" || c == "\r" {
                advance()
            } else if c == "#" {
                skipComment()
            } else {
                return
            }
        }
    }

    /// Where the keys being read go: a table, the newest element of an array of tables
    /// (`[[remote]]`), or a table inside that element (`[remote.retention]`).
    private enum Target {
        case table(String)
        case element(String)
        case inElement(String, String)
    }

    mutating func document() throws -> TOMLTable {
        var root = TOMLTable()
        var target: Target?
        var current = TOMLTable()
        func close(_ target: Target?, _ t: TOMLTable, into root: inout TOMLTable) {
            switch target {
            case .table(let name): root.set(name, .table(t))
            case .element(let name): root.set(name, .array((root[name]?.array ?? []) + [.table(t)]))
            case .inElement(let name, let sub):
                var elements = root[name]?.array ?? []
                guard var last = elements.popLast()?.table else { return }
                last.set(sub, .table(t))
                root.set(name, .array(elements + [.table(last)]))
            case nil: break
            }
        }
        while true {
            skipWhitespaceAndComments()
            guard let c = self.current else { break }
            if c == "[" {
                close(target, current, into: &root)
                let (name, sub, array) = try header()
                if array {
                    if let existing = root[name], existing.array == nil { throw fail("[\(name)] is defined twice") }
                    target = .element(name)
                } else if let sub {
                    guard root[name]?.array != nil else {
                        throw fail("nested tables ([a.b]) are only for an element of [[\(name)]]")
                    }
                    if root[name]?.array?.last?.table?[sub] != nil { throw fail("[\(name).\(sub)] is defined twice") }
                    target = .inElement(name, sub)
                } else {
                    if root[name] != nil { throw fail("[\(name)] is defined twice") }
                    target = .table(name)
                }
                current = TOMLTable()
                try endOfLine()
                continue
            }
            let key = try self.key()
            skipBlanks()
            if self.current == "." { throw fail("dotted keys are not part of pgkeep's config") }
            guard self.current == "=" else { throw fail("expected = after the key \"\(key)\"") }
            advance()
            skipBlanks()
            let value = try self.value()
            if target == nil {
                if root[key] != nil { throw fail("\"\(key)\" is defined twice") }
                root.set(key, value)
            } else {
                if current[key] != nil { throw fail("\"\(key)\" is defined twice in this table") }
                current.set(key, value)
            }
            try endOfLine()
        }
        close(target, current, into: &root)
        return root
    }

    /// `[name]`, `[name.sub]` or `[[name]]`, the cursor on the first `[`.
    private mutating func header() throws -> (name: String, sub: String?, array: Bool) {
        advance()
        let array = current == "["
        if array { advance() }
        skipBlanks()
        let name = try key()
        skipBlanks()
        var sub: String?
        if current == "." {
            guard !array else { throw fail("nested arrays of tables are not part of pgkeep's config") }
            advance()
            skipBlanks()
            sub = try key()
            skipBlanks()
        }
        guard current == "]" else {
            throw fail(
                current == nil || current == "\n" ? "the table name is not closed with ]" : "expected ] after [\(name)")
        }
        advance()
        if array {
            guard current == "]" else { throw fail("expected ]] after [[\(name)") }
            advance()
        }
        return (name, sub, array)
    }

    /// A bare key (letters, digits, `_`, `-`) or a quoted one.
    private mutating func key() throws -> String {
        guard let c = current else { throw fail("expected a key") }
        if c == "\"" || c == "'" {
            return try string()
        }
        var out = ""
        while let c = current, c.isASCII, c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "-" {
            out.unicodeScalars.append(c)
            advance()
        }
        guard !out.isEmpty else { throw fail("a key is letters, digits, _ and - (or quoted); found \"\(c)\"") }
        return out
    }

    private mutating func value() throws -> TOMLValue {
        guard let c = current, c != "\n", c != "#" else { throw fail("expected a value") }
        switch c {
        case "\"", "'": return .string(try string())
        case "[": return try array()
        case "{": throw fail("inline tables ({...}) are not part of pgkeep's config")
        case "t", "f": return .boolean(try boolean())
        default: return try number()
        }
    }

    private mutating func string() throws -> String {
        let quote = current!
        if i + 2 < chars.count, chars[i + 1] == quote, chars[i + 2] == quote {
            throw fail("multi-line strings are not part of pgkeep's config")
        }
        advance()
        var out = ""
        while let c = current {
            if c == quote {
                advance()
                return out
            }
            if c == "\n" { break }
            if c.value < 0x20 && c != "\t" || c.value == 0x7f { throw fail("a control character in a string") }
            if c == "\\" && quote == "\"" {
                advance()
                out.unicodeScalars.append(try escape())
                continue
            }
            out.unicodeScalars.append(c)
            advance()
        }
        throw fail("the string is not closed with \(quote)")
    }

    private mutating func escape() throws -> Unicode.Scalar {
        guard let c = current else { throw fail("an escape at the end of the file") }
        advance()
        switch c {
        case "b": return "\u{8}"
        case "t": return "\t"
        case "n": return "\n"
        case "f": return "\u{c}"
        case "r": return "\r"
        case "\"": return "\""
        case "\\": return "\\"
        case "u", "U":
            let count = c == "u" ? 4 : 8
            var hex = ""
            for _ in 0..<count {
                guard let h = current, h.properties.isASCIIHexDigit else {
                    throw fail("\\\(c) needs \(count) hex digits")
                }
                hex.unicodeScalars.append(h)
                advance()
            }
            guard let value = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(value) else {
                throw fail("\\\(c)\(hex) is not a Unicode scalar")
            }
            return scalar
        default: throw fail("\\\(c) is not an escape TOML knows")
        }
    }

    private mutating func array() throws -> TOMLValue {
        advance()
        var items: [TOMLValue] = []
        while true {
            skipWhitespaceAndComments()
            guard let c = current else { throw fail("the array is not closed with ]") }
            if c == "]" {
                advance()
                return .array(items)
            }
            items.append(try value())
            skipWhitespaceAndComments()
            if current == "," {
                advance()
            } else if current != "]" {
                throw fail("expected , or ] in the array")
            }
        }
    }

    private mutating func boolean() throws -> Bool {
        for (word, value) in [("true", true), ("false", false)] {
            let scalars = Array(word.unicodeScalars)
            if i + scalars.count <= chars.count, Array(chars[i..<(i + scalars.count)]) == scalars {
                for _ in scalars { advance() }
                return value
            }
        }
        throw fail("expected a value (a string is quoted)")
    }

    /// An integer or a float, with TOML's underscores between digits.
    private mutating func number() throws -> TOMLValue {
        var text = ""
        while let c = current, c.isASCII, ("0"..."9").contains(c) || "+-_.eE".unicodeScalars.contains(c) {
            text.unicodeScalars.append(c)
            advance()
        }
        guard !text.isEmpty else {
            throw fail("expected a value (a string is quoted); found \"\(current.map(String.init) ?? "")\"")
        }
        guard !text.hasPrefix("_"), !text.hasSuffix("_"), !text.contains("__") else {
            throw fail("\(text): underscores go between digits")
        }
        let plain = text.replacingOccurrences(of: "_", with: "")
        if let n = Int(plain) { return .integer(n) }
        if plain.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let d = Double(plain) { return .float(d) }
        throw fail("\(text) is not a number pgkeep reads (a string is quoted)")
    }
}
