import Foundation

/// Splits a command given as one string (`--on-success "notify --to 'ops team'"`) into words the
/// way a POSIX shell would, with single quotes, double quotes and backslashes, but without
/// running a shell: no variables, globs, pipes or redirections.
public enum ShellWords {
    public static func split(_ text: String, option: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for ch in text {
            if escaped {
                current.append(ch)
                escaped = false
                inWord = true
                continue
            }
            if let q = quote {
                if ch == q {
                    quote = nil
                } else if ch == "\\" && q == "\"" {
                    escaped = true
                } else {
                    current.append(ch)
                }
                continue
            }
            switch ch {
            case "\\":
                escaped = true
                inWord = true
            case "'", "\"":
                quote = ch
                inWord = true
            case " ", "\t", "\n":
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            default:
                current.append(ch)
                inWord = true
            }
        }
        guard quote == nil, !escaped else {
            throw PGKeepError(.usage, "\(option): unbalanced quote or trailing backslash in \(text)")
        }
        if inWord { words.append(current) }
        guard !words.isEmpty else { throw PGKeepError(.usage, "\(option) is empty") }
        return words
    }
}

extension ShellWords {
    /// Words joined back into one line a shell reads as the same words (for display).
    public static func join(_ words: [String]) -> String {
        words.map { $0.contains(" ") || $0.isEmpty ? "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" : $0 }
            .joined(separator: " ")
    }
}
