import Foundation
import PGKeep

/// What `copy` and `compare` print with --json: a row per database (a plan, a copy, a copy that
/// did not match, or a comparison), `globals` after --all, and whether all went well.
struct CopyReportJSON: Encodable {
    /// Absent unless roles and tablespaces were copied.
    var globals: Globals?
    var results: [Row]
    var ok: Bool

    struct Globals: Encodable {
        var statements: Int
        var alreadyExisted: Int

        enum CodingKeys: String, CodingKey {
            case statements
            case alreadyExisted = "already_existed"
        }
    }

    /// One database; each kind of row has its own keys.
    enum Row: Encodable {
        case plan(Plan)
        case copied(Copied)
        case mismatch(Mismatch)
        case comparison(Validation)

        func encode(to encoder: Encoder) throws {
            switch self {
            case .plan(let row): try row.encode(to: encoder)
            case .copied(let row): try row.encode(to: encoder)
            case .mismatch(let row): try row.encode(to: encoder)
            case .comparison(let row): try row.encode(to: encoder)
            }
        }
    }

    /// `copy --dry-run`: what would move.
    struct Plan: Encodable {
        var source: String
        var target: String
        var targetExists: Bool
        var bytes: Int64
        var tables: [Table]
        var sequences: Int
        var largeObjects: Int64

        struct Table: Encodable {
            var name: String
            var bytes: Int64
            var estimatedRows: Int64

            enum CodingKeys: String, CodingKey {
                case name, bytes
                case estimatedRows = "estimated_rows"
            }
        }

        enum CodingKeys: String, CodingKey {
            case source, target, bytes, tables, sequences
            case targetExists = "target_exists"
            case largeObjects = "large_objects"
        }
    }

    /// A database copied; `validation` is null with --no-verify.
    struct Copied: Encodable {
        var source: String
        var target: String
        var ok: Bool
        var tables: Int
        var rows: Int64
        var bytes: Int64
        var seconds: Double
        var phases: [String: Double]
        var clients: String
        var verified: Bool
        var validation: JSONNullable<Validation>
    }

    /// A copy that did not match its source (and was dropped).
    struct Mismatch: Encodable {
        var source: String
        var target: String
        var ok: Bool
        var validation: Validation
    }

    /// A comparison: `Comparison`'s own keys, with `ok` and `differences`.
    struct Validation: Encodable {
        var comparison: Comparison

        init(_ comparison: Comparison) { self.comparison = comparison }

        enum CodingKeys: String, CodingKey {
            case ok, differences
        }

        func encode(to encoder: Encoder) throws {
            try comparison.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(comparison.matches, forKey: .ok)
            try container.encode(comparison.differences, forKey: .differences)
        }
    }
}
