import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Delivers monitor events over HTTP (URLSession), each target on a serial queue of its own so
/// events arrive in order while the run goes on. Each event has `timeout` seconds for all its
/// tries (3, with backoff, on connection errors and 5xx/429 answers); a target that let one event
/// time out, or failed all its tries, is skipped for the rest of the run, so an endpoint that is
/// down or hangs costs at most one event's budget. A delivery that fails is a warning: it never
/// fails or stops the run.
// `down` is a Locked; the queues, the group and the session are thread-safe and set in init.
final class MonitorDelivery: @unchecked Sendable {
    let config: MonitorTargets
    let warn: @Sendable (String) -> Void
    private let queues: [DispatchQueue]
    private let down = Locked(Set<Int>())
    private let group = DispatchGroup()
    private let session: URLSession

    init(_ config: MonitorTargets, warn: @escaping @Sendable (String) -> Void) {
        self.config = config
        self.warn = warn
        queues = config.targets.indices.map { DispatchQueue(label: "pgkeep-monitor-\($0)") }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = config.timeout
        configuration.timeoutIntervalForResource = config.timeout
        session = URLSession(configuration: configuration)
    }

    /// Queues `event` for every target that hears its state (and that `to` admits).
    func send(_ event: MonitorEvent, to admit: (MonitorTargets.Kind) -> Bool) {
        for (index, target) in config.targets.enumerated()
        where target.states.contains(event.state) && admit(target.kind) {
            guard let request = MonitorRequests.request(for: event, to: target) else { continue }
            group.enter()
            queues[index].async { [self] in
                defer { group.leave() }
                guard !down.current.contains(index) else { return }
                deliver(request, event: event, target: target, index: index)
            }
        }
    }

    /// Waits for what is queued, at most one timeout per target queue plus a margin.
    func wait() {
        _ = group.wait(timeout: .now() + config.timeout + 5)
    }

    private func deliver(_ request: URLRequest, event: MonitorEvent, target: MonitorTargets.Target, index: Int) {
        let deadline = Date().addingTimeInterval(config.timeout)
        var problem = "no try was made"
        for attempt in 1...max(1, config.tries) {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0.05 else { break }
            switch perform(request, within: remaining) {
            case .delivered: return
            case .refused(let status):
                warn(
                    "the \(target.kind.rawValue) endpoint \(target.display) answered HTTP \(status) to the "
                        + "\(event.state.rawValue) event; not retried")
                return
            case .failed(let why):
                problem = why
            case .timedOut:
                problem = "no answer within \(Int(config.timeout)) s"
                down.withLock { _ = $0.insert(index) }
                warn(
                    "the \(target.kind.rawValue) endpoint \(target.display) did not take the "
                        + "\(event.state.rawValue) event: \(problem); it is skipped for the rest of this run")
                return
            }
            if attempt < config.tries {
                Thread.sleep(forTimeInterval: min(Double(attempt) * 0.5, max(0, deadline.timeIntervalSinceNow)))
            }
        }
        down.withLock { _ = $0.insert(index) }
        warn(
            "the \(target.kind.rawValue) endpoint \(target.display) did not take the \(event.state.rawValue) "
                + "event after \(config.tries) tries: \(problem); it is skipped for the rest of this run")
    }

    enum Outcome {
        case delivered
        case refused(Int)
        case failed(String)
        case timedOut
    }

    private func perform(_ base: URLRequest, within seconds: TimeInterval) -> Outcome {
        var request = base
        request.timeoutInterval = seconds
        let result = Locked<Outcome?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: request) { _, response, error in
            let status = (response as? HTTPURLResponse)?.statusCode
            result.withLock {
                if let status, (200..<300).contains(status) {
                    $0 = .delivered
                } else if let status, status < 500, status != 429, status != 408 {
                    $0 = .refused(status)
                } else if let status {
                    $0 = .failed("HTTP \(status)")
                } else if let error = error as? URLError, error.code == .timedOut {
                    $0 = .timedOut
                } else {
                    $0 = .failed(error.map { MonitorTargets.Target.mask(in: $0.localizedDescription) } ?? "no answer")
                }
            }
            done.signal()
        }
        task.resume()
        if done.wait(timeout: .now() + seconds) == .timedOut {
            task.cancel()
            return .timedOut
        }
        return result.current ?? .failed("no answer")
    }
}

extension MonitorTargets.Target {
    /// Any URL inside `text` reduced to its host.
    static func mask(in text: String) -> String {
        guard let regex = try? NSRegularExpression(pattern: #"https?://[^\s"']+"#) else { return text }
        var out = text
        for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).reversed() {
            guard let range = Range(match.range, in: out) else { continue }
            out.replaceSubrange(range, with: mask(String(out[range])))
        }
        return out
    }
}

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
        }
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
