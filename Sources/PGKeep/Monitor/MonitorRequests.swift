import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The request each kind of target gets for an event (nil: the target has nothing for it).
enum MonitorRequests {
    static let host = ProcessInfo.processInfo.hostName

    static func request(for event: MonitorEvent, to target: MonitorTargets.Target) -> URLRequest? {
        let base = target.url.hasSuffix("/") ? String(target.url.dropLast()) : target.url
        switch target.kind {
        case .healthchecks:
            let suffix = [MonitorEvent.State.start: "/start", .failure: "/fail", .anomaly: "/fail"][event.state] ?? ""
            guard var request = URL(string: base + suffix).map({ URLRequest(url: $0) }) else { return nil }
            request.httpMethod = "POST"
            if event.state != .start {
                let head = event.state == .anomaly ? event.summary + "\n\n" : ""
                request.httpBody = Data((head + event.log).utf8.suffix(100_000))
                request.setValue("text/plain; charset=utf-8", forHTTPHeaderField: "Content-Type")
            }
            return request
        case .uptimeKuma:
            guard event.state != .start, var parts = URLComponents(string: target.url) else { return nil }
            var items = (parts.queryItems ?? []).filter { !["status", "msg", "ping"].contains($0.name) }
            items.append(URLQueryItem(name: "status", value: event.state == .success ? "up" : "down"))
            items.append(URLQueryItem(name: "msg", value: String(event.summary.prefix(200))))
            parts.queryItems = items
            return parts.url.map { URLRequest(url: $0) }
        case .webhook:
            guard var request = URL(string: target.url).map({ URLRequest(url: $0) }) else { return nil }
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            for (name, value) in target.headers { request.setValue(value, forHTTPHeaderField: name) }
            request.httpBody = webhookBody(event)
            return request
        case .ntfy:
            guard var request = URL(string: target.url).map({ URLRequest(url: $0) }) else { return nil }
            request.httpMethod = "POST"
            request.setValue(event.state == .failure ? "high" : "default", forHTTPHeaderField: "Priority")
            request.setValue("warning", forHTTPHeaderField: "Tags")
            request.setValue("pgkeep on \(host): \(event.state.rawValue)", forHTTPHeaderField: "Title")
            request.httpBody = Data(event.summary.utf8)
            return request
        case .slack, .discord, .teams:
            let body: Data
            switch target.kind {
            case .slack: body = ChatMessages.slack(event, host: host)
            case .discord: body = ChatMessages.discord(event, host: host)
            default: body = ChatMessages.teams(event, host: host)
            }
            return jsonPost(to: target.url, body: body)
        case .telegram:
            guard let chat = target.telegram else { return nil }
            return jsonPost(
                to: base + "/bot" + chat.token + "/sendMessage",
                body: ChatMessages.telegram(event, host: host, chatID: chat.chatID))
        case .email:
            return nil
        }
    }

    static func jsonPost(to url: String, body: Data) -> URLRequest? {
        guard var request = URL(string: url).map({ URLRequest(url: $0) }) else { return nil }
        request.httpMethod = "POST"
        request.setValue("application/json; charset=utf-8", forHTTPHeaderField: "Content-Type")
        request.httpBody = body
        return request
    }

    static func webhookBody(_ event: MonitorEvent) -> Data {
        let body = WebhookBody(
            event: event.state.rawValue, command: event.command, host: host, database: JSONNullable(event.database),
            path: JSONNullable(event.path), size: JSONNullable(event.size),
            durationSeconds: JSONNullable(event.durationSeconds), error: JSONNullable(event.error),
            pgkeepVersion: PGKeepVersion.string)
        return JSONOutput.compact(body) ?? Data()
    }

    /// A webhook's JSON body: every key always there, null when the event has no such value.
    struct WebhookBody: Encodable {
        var event: String
        var command: String
        var host: String
        var database: JSONNullable<String>
        var path: JSONNullable<String>
        var size: JSONNullable<Int64>
        var durationSeconds: JSONNullable<Double>
        var error: JSONNullable<String>
        var pgkeepVersion: String

        enum CodingKeys: String, CodingKey {
            case event, command, host, database, path, size, error
            case durationSeconds = "duration_seconds"
            case pgkeepVersion = "pgkeep_version"
        }
    }
}
