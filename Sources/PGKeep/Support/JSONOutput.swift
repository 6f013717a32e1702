import Foundation

/// pgkeep's one way to write JSON: an `Encodable` value through one of these encoders, keys
/// sorted. The --json reports are pretty-printed with slashes as they are; a webhook's body is
/// compact.
public enum JSONOutput {
    /// A --json report: pretty-printed, sorted keys, slashes not escaped (no trailing newline).
    public static func report<T: Encodable>(_ value: T) -> Data? {
        encode(value, [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// One line with sorted keys (a webhook's body).
    public static func compact<T: Encodable>(_ value: T) -> Data? {
        encode(value, [.sortedKeys])
    }

    private static func encode<T: Encodable>(_ value: T, _ formatting: JSONEncoder.OutputFormatting) -> Data? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = formatting
        return try? encoder.encode(value)
    }
}

/// A value that is written as `null` when absent. (A synthesized `Encodable` leaves an absent
/// Optional out; the keys of this type are always there.)
public struct JSONNullable<Wrapped: Encodable>: Encodable {
    public var value: Wrapped?

    public init(_ value: Wrapped?) { self.value = value }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value { try container.encode(value) } else { try container.encodeNil() }
    }
}

extension JSONNullable: Sendable where Wrapped: Sendable {}
