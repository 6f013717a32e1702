import Foundation

/// Text into HTML. Everything the status page shows that came from outside (database names,
/// labels, file names, error messages, manifests) goes through `escape`, so it renders as text:
/// markup characters become entities, and characters HTML forbids (C0 controls but tab and
/// newline, DEL, C1 controls, lone surrogates cannot occur in a Swift String) become U+FFFD.
/// The page also forbids every script by its Content-Security-Policy, a second fence.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out.unicodeScalars.append(scalar)
            case "\r": out += " "
            default:
                let v = scalar.value
                if v < 0x20 || (0x7F...0x9F).contains(v) || (0xFDD0...0xFDEF).contains(v) || v & 0xFFFE == 0xFFFE {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// A table cell: `<td>` with escaped text (or `—` for nothing), optional class.
    static func cell(_ text: String?, class name: String? = nil, header: Bool = false) -> String {
        let tag = header ? "th scope=\"row\"" : "td"
        let attr = name.map { " class=\"\($0)\"" } ?? ""
        return "<\(tag)\(attr)>\(text.map(escape) ?? "—")</\(header ? "th" : "td")>"
    }

    /// A header row (`<th scope="col">` each).
    static func head(_ columns: [String]) -> String {
        "<thead><tr>" + columns.map { "<th scope=\"col\">\(escape($0))</th>" }.joined() + "</tr></thead>"
    }

    /// A timestamp as UTC text: "2026-12-02 03:00 UTC".
    static func time(_ date: Date?) -> String? {
        guard let date else { return nil }
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var p = tm()
        gmtime_r(&t, &p)
        return String(
            format: "%04d-%02d-%02d %02d:%02d UTC", Int(p.tm_year) + 1900, Int(p.tm_mon) + 1, Int(p.tm_mday),
            Int(p.tm_hour), Int(p.tm_min))
    }

    /// An age ("3h 12m ago"), or nil.
    static func age(_ date: Date?, now: Date) -> String? {
        guard let date else { return nil }
        let seconds = now.timeIntervalSince(date)
        if seconds < 0 { return "in " + DurationText.format(-seconds) }
        return seconds < 1 ? "just now" : DurationText.format(seconds) + " ago"
    }

    static func seconds(_ value: Double?) -> String? {
        guard let value else { return nil }
        return value < 60 ? String(format: "%.1f s", value) : DurationText.format(value)
    }
}
