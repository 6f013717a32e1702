import Foundation

/// An alert email as sendmail reads it on stdin (`-t`: the recipients come from `To:`): headers,
/// a blank line, a plain-text UTF-8 body with the summary, the facts, the whole error and the
/// run's log tail. Lines end in LF, as the sendmail interface expects; the MTA sends CRLF.
///
/// No header can be added by what the event carries: every header value has its CR, LF and other
/// control characters turned into spaces, and a subject that is not ASCII is RFC 2047 encoded.
enum MailMessage {
    static func text(
        _ event: MonitorEvent, settings: MailSettings, host: String, date: Date = Date(),
        id: String = UUID().uuidString.lowercased()
    ) -> String {
        let subject = [settings.subjectPrefix, event.headline, "(\(host))"].filter { !$0.isEmpty }
            .joined(separator: " ")
        let headers = [
            "From: " + headerText(settings.from),
            "To: " + headerText(settings.to.joined(separator: ", ")),
            "Subject: " + encodedSubject(subject),
            "Date: " + dateHeader(date),
            "Message-ID: <\(id).pgkeep@\(domain(host))>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "Auto-Submitted: auto-generated",
        ]
        return headers.joined(separator: "\n") + "\n\n" + body(event, host: host)
    }

    static func body(_ event: MonitorEvent, host: String) -> String {
        var out = event.title + "\n\n"
        for fact in event.facts(host: host) { out += "\(fact.name): \(fact.value)\n" }
        if let error = event.error, !error.isEmpty { out += "\nError:\n" + error + "\n" }
        if !event.log.isEmpty { out += "\nThe run's log (its last lines):\n" + event.log }
        if !out.hasSuffix("\n") { out += "\n" }
        out += "\n-- \npgkeep \(PGKeepVersion.string)\n"
        return bodyLines(out)
    }

    /// LF line ends only, no NUL, and no line over 998 octets (SMTP's limit for 8bit): a longer
    /// one is broken at a character boundary.
    static func bodyLines(_ text: String) -> String {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .replacingOccurrences(of: "\0", with: "")
        var out: [String] = []
        for line in normalized.split(separator: "\n", omittingEmptySubsequences: false) {
            var rest = Substring(line)
            while rest.utf8.count > 900 {
                var cut = rest.startIndex
                var bytes = 0
                for index in rest.indices {
                    let size = rest[index].utf8.count
                    if bytes + size > 900 { break }
                    bytes += size
                    cut = rest.index(after: index)
                }
                out.append(String(rest[..<cut]))
                rest = rest[cut...]
            }
            out.append(String(rest))
        }
        return out.joined(separator: "\n")
    }

    /// A header's value on one line: CR, LF, tabs and other control characters become spaces.
    static func headerText(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
    }

    /// The subject folded at spaces (ASCII), or as RFC 2047 base64 words of at most 45 bytes each.
    static func encodedSubject(_ subject: String) -> String {
        let text = headerText(subject).prefix(250)
        if text.unicodeScalars.allSatisfy({ $0.isASCII }) {
            // Folding: a line break before a space, which the reader removes again.
            var lines: [String] = []
            var line: String?
            for word in text.split(separator: " ", omittingEmptySubsequences: false) {
                if let current = line, !current.isEmpty, current.count + 1 + word.count > 70 {
                    lines.append(current)
                    line = String(word)
                } else {
                    line = line.map { $0 + " " + word } ?? String(word)
                }
            }
            lines.append(line ?? "")
            return lines.joined(separator: "\n ")
        }
        var words: [String] = []
        var chunk = ""
        for ch in text {
            if chunk.utf8.count + ch.utf8.count > 45 {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(ch)
        }
        words.append(chunk)
        return words.map { "=?UTF-8?B?" + Data($0.utf8).base64EncodedString() + "?=" }.joined(separator: "\n ")
    }

    /// RFC 5322's date: `Wed, 02 Dec 2026 18:19:57 +0000`.
    static func dateHeader(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: date)
    }

    /// The host as a Message-ID's domain: letters, digits, dots and hyphens.
    static func domain(_ host: String) -> String {
        let kept = String(
            host.unicodeScalars.filter {
                $0.isASCII && ($0.properties.isAlphabetic || "0123456789.-".unicodeScalars.contains($0))
            })
        return kept.isEmpty ? "localhost" : kept
    }
}
