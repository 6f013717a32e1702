import Foundation

/// The message each chat service gets for an event, in its own format: what happened, the facts
/// the event has (database, host, size, duration, path) and the error's first lines. Text from
/// the database and from errors is escaped for the format's markup, not only for JSON: a name
/// like `<!channel>` or `@everyone` must neither ping a channel nor break the message.
enum ChatMessages {
    /// Slack's incoming webhook: `text` (the notification's fallback) and Block Kit blocks.
    /// mrkdwn needs `&`, `<` and `>` escaped (a `<...>` is a link or a mention); plain_text does not.
    static func slack(_ event: MonitorEvent, host: String) -> Data {
        var blocks: [[String: Any]] = [
            ["type": "header", "text": ["type": "plain_text", "text": clip(event.title, 150), "emoji": false]],
            [
                "type": "section",
                "fields": event.facts(host: host).prefix(10).map { fact in
                    ["type": "mrkdwn", "text": "*\(fact.name)*\n" + fit(fact.value, 1900, slackEscape)]
                },
            ],
        ]
        if let head = event.errorHead() {
            let code = "```" + fit(breakFences(head), 2990, slackEscape) + "```"
            blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": code]])
        }
        blocks.append(["type": "context", "elements": [["type": "mrkdwn", "text": "pgkeep \(PGKeepVersion.string)"]]])
        return json(["text": slackEscape(event.title + " on " + host), "blocks": blocks])
    }

    /// Discord's webhook: `content` and one embed (title, description, color, fields). Every
    /// mention is off (`allowed_mentions`), and markdown in names and errors is escaped.
    static func discord(_ event: MonitorEvent, host: String) -> Data {
        var embed: [String: Any] = [
            "title": fit(event.title, 256, discordEscape),
            "color": color(event.state),
            "fields": event.facts(host: host).prefix(25).map { fact in
                ["name": fact.name, "value": fit(fact.value, 1024, discordEscape), "inline": fact.name != "Path"]
            },
            "footer": ["text": "pgkeep \(PGKeepVersion.string)"],
        ]
        if let head = event.errorHead() {
            embed["description"] = "```\n" + clip(breakFences(head), 4080) + "\n```"
        }
        return json([
            "username": "pgkeep",
            "content": fit(event.title + " on " + host, 2000, discordEscape),
            "embeds": [embed],
            "allowed_mentions": ["parse": [String]()],
        ])
    }

    /// A Teams channel's incoming webhook (a Workflows "when a webhook request is received" flow,
    /// or a legacy Office 365 connector): a message with one Adaptive Card 1.4 attachment. Not a
    /// MessageCard: Workflows, which replace the retired connectors, render Adaptive Cards only.
    /// Every text is a RichTextBlock's TextRun, which shows text as it is (a TextBlock or a
    /// FactSet would read markdown in a database name or an error).
    static func teams(_ event: MonitorEvent, host: String) -> Data {
        func run(_ text: String, _ style: [String: Any] = [:]) -> [String: Any] {
            style.merging(["type": "TextRun", "text": text]) { a, _ in a }
        }
        func paragraph(_ inlines: [[String: Any]]) -> [String: Any] {
            ["type": "RichTextBlock", "inlines": inlines]
        }
        var body: [[String: Any]] = [
            paragraph([
                run(
                    event.title,
                    ["weight": "Bolder", "size": "Medium", "color": event.state == .success ? "Good" : "Attention"])
            ])
        ]
        for fact in event.facts(host: host) {
            body.append(paragraph([run(fact.name + ": ", ["weight": "Bolder"]), run(fact.value)]))
        }
        if let head = event.errorHead() {
            body.append(paragraph([run("Error:", ["weight": "Bolder"])]))
            for line in head.split(separator: "\n", omittingEmptySubsequences: false) {
                body.append(paragraph([run(line.isEmpty ? " " : String(line), ["fontType": "Monospace"])]))
            }
        }
        let card: [String: Any] = [
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "msteams": ["width": "Full"], "body": body,
        ]
        return json([
            "type": "message",
            "attachments": [["contentType": "application/vnd.microsoft.card.adaptive", "content": card]],
        ])
    }

    /// Telegram's sendMessage, in HTML mode: `&`, `<` and `>` escaped in every text.
    static func telegram(_ event: MonitorEvent, host: String, chatID: String) -> Data {
        var lines = ["<b>" + htmlEscape(event.title) + "</b>"]
        for fact in event.facts(host: host) { lines.append("<b>\(fact.name):</b> " + htmlEscape(fact.value)) }
        if let head = event.errorHead() { lines.append("<pre>" + htmlEscape(head) + "</pre>") }
        return json([
            "chat_id": chatID, "text": lines.joined(separator: "\n"), "parse_mode": "HTML",
            "link_preview_options": ["is_disabled": true],
        ])
    }

    static func slackEscape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    static func htmlEscape(_ text: String) -> String { slackEscape(text) }

    /// Discord's markdown: a backslash before each character that could start markup, a mention
    /// (`@everyone`, `<@id>`) or a heading or quote.
    static func discordEscape(_ text: String) -> String {
        let special: Set<Character> = ["\\", "*", "_", "~", "`", "|", "<", ">", "#", "[", "]", "(", ")", "-", "@"]
        var out = ""
        for ch in text {
            if special.contains(ch) { out.append("\\") }
            out.append(ch)
        }
        return out
    }

    /// A code block ends at three backticks: a zero-width space after each backtick keeps an
    /// error's own backticks inside it.
    static func breakFences(_ text: String) -> String {
        text.replacingOccurrences(of: "`", with: "`\u{200B}")
    }

    static func color(_ state: MonitorEvent.State) -> Int {
        switch state {
        case .failure: 0xE0_1E5A
        case .anomaly: 0xEC_B22E
        case .success: 0x2E_B67D
        case .start: 0x43_9FE0
        }
    }

    /// At most `limit` characters (the service refuses longer fields), the cut marked with "…".
    static func clip(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    /// `escape(text)` within `limit` characters, clipped before escaping so that no escape
    /// sequence (`&amp;`, `\*`) is cut in half.
    static func fit(_ text: String, _ limit: Int, _ escape: (String) -> String) -> String {
        var keep = text.count
        while true {
            let clipped = keep >= text.count ? text : String(text.prefix(max(0, keep - 1))) + "…"
            let escaped = escape(clipped)
            if escaped.count <= limit || keep <= 1 { return escaped }
            keep = min(keep - 1, keep * limit / escaped.count)
        }
    }

    static func json(_ object: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }
}
