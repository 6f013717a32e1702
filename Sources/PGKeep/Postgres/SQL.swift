import Foundation

/// SQL quoting for standard_conforming_strings = on (the default since PostgreSQL 9.1).
public enum SQL {
    public static func literal(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
    public static func identifier(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
