import Foundation

/// The TOML that pgkeep's config file is written in: tables of keys whose values are strings
/// (basic and literal), integers, floats, booleans and arrays of them, with comments anywhere.
/// Hand-written because the TOML library it replaced aborted the whole process on some malformed
/// files (`[:x]`, a `}` in an array): here every fault is a `TOMLError` with its line and column.
/// Other TOML (nested or array tables, inline tables, multi-line strings, dates) is refused by
/// name, so a config file never means something pgkeep does not read.
public enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var int: Int? { if case .integer(let n) = self { n } else { nil } }
    /// A float, or an integer read as one.
    public var double: Double? {
        switch self {
        case .float(let d): d
        case .integer(let n): Double(n)
        default: nil
        }
    }
    public var bool: Bool? { if case .boolean(let b) = self { b } else { nil } }
    public var array: [TOMLValue]? { if case .array(let a) = self { a } else { nil } }
    public var table: TOMLTable? { if case .table(let t) = self { t } else { nil } }

    /// The type's name, for messages ("must be an integer (got string)").
    public var type: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .boolean: "boolean"
        case .array: "array"
        case .table: "table"
        }
    }
}

/// A table: its keys in the order the file gives them.
public struct TOMLTable: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var values: [String: TOMLValue] = [:]

    public init() {}

    public subscript(key: String) -> TOMLValue? { values[key] }

    mutating func set(_ key: String, _ value: TOMLValue) {
        if values[key] == nil { keys.append(key) }
        values[key] = value
    }

    /// Parses a whole document.
    public init(parsing text: String) throws {
        var parser = TOMLParser(text: text)
        self = try parser.document()
    }
}
