import Foundation

/// The last line of defence for secrets in output. Passwords are masked where they stand as a
/// value, never as a substring of other text (a password `postgres` must not turn `postgresql://`
/// into `****ql://`):
/// - in everything pgkeep prints (`apply`): the userinfo of a URI and a conninfo `password=`;
/// - in what a child wrote (`applyToChildOutput`), also each registered password where it stands
///   whole, not inside a longer word;
/// - in a hook's environment (`isSecretValue`), a variable whose whole value is one, or that holds
///   one in a URI or conninfo.
public final class Redaction: Sendable {
    public static let shared = Redaction()
    private let secrets = Locked<[String]>([])

    public func register(_ secret: String?) {
        guard let secret, !secret.isEmpty else { return }
        secrets.withLock { if !$0.contains(secret) { $0.append(secret) } }
    }

    /// pgkeep's own text: URI userinfo and conninfo passwords masked.
    public func apply(_ text: String) -> String {
        ConnectionSpec.maskSecrets(in: text)
    }

    /// A child's stderr: also every registered password that stands whole in it.
    public func applyToChildOutput(_ text: String) -> String {
        var out = apply(text)
        for secret in secrets.current { out = Self.maskWhole(secret, in: out) }
        return out
    }

    /// Whether an environment variable's value is, or carries, a registered password.
    public func isSecretValue(_ value: String) -> Bool {
        secrets.current.contains(value) || apply(value) != value
    }

    /// Replaces each occurrence of `secret` that is not part of a longer word.
    static func maskWhole(_ secret: String, in text: String) -> String {
        guard !secret.isEmpty, text.contains(secret) else { return text }
        var out = ""
        var rest = text[...]
        while let range = rest.range(of: secret) {
            let before = range.lowerBound > rest.startIndex ? rest[rest.index(before: range.lowerBound)] : nil
            let after = range.upperBound < rest.endIndex ? rest[range.upperBound] : nil
            let whole =
                !(secret.first.map(isWordCharacter) == true && before.map(isWordCharacter) == true)
                && !(secret.last.map(isWordCharacter) == true && after.map(isWordCharacter) == true)
            out += rest[..<range.lowerBound]
            out += whole ? "****" : String(rest[range])
            rest = rest[range.upperBound...]
        }
        return out + rest
    }

    private static func isWordCharacter(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }
}
