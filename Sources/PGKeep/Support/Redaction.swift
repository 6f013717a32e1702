import Foundation

/// The last line of defence for secrets in output: every message pgkeep prints passes through
/// `apply`, which masks known passwords and anything shaped like one.
public final class Redaction: Sendable {
    public static let shared = Redaction()
    private let secrets = Locked<[String]>([])

    public func register(_ secret: String?) {
        guard let secret, !secret.isEmpty else { return }
        secrets.withLock { if !$0.contains(secret) { $0.append(secret) } }
    }

    /// Whether `text` holds a registered secret.
    public func containsSecret(_ text: String) -> Bool {
        secrets.current.contains { text.contains($0) }
    }

    public func apply(_ text: String) -> String {
        var out = ConnectionSpec.maskSecrets(in: text)
        for secret in secrets.current { out = out.replacingOccurrences(of: secret, with: "****") }
        return out
    }
}
