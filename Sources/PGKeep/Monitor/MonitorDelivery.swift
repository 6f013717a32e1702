import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Delivers monitor events over HTTP (URLSession), and email through `Sendmail`, each target on
/// a serial queue of its own so events arrive in order while the run goes on. Each event has
/// `timeout` seconds for all its tries (HTTP: 3, with backoff, on connection errors and 5xx/429
/// answers; email: one); a target that let one event time out, or failed all its tries, is skipped
/// for the rest of the run, so an endpoint that is down or hangs costs at most one event's budget.
/// A delivery that fails is a warning: it never fails or stops the run.
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
            guard let payload = Payload(event, to: target) else { continue }
            group.enter()
            queues[index].async { [self] in
                defer { group.leave() }
                guard !down.current.contains(index) else { return }
                switch payload {
                case .http(let request): deliver(request, event: event, target: target, index: index)
                case .mail(let message): mail(message, event: event, target: target, index: index)
                }
            }
        }
    }

    /// What a target gets for an event: an HTTP request, or a message for sendmail.
    enum Payload {
        case http(URLRequest)
        case mail(String)

        init?(_ event: MonitorEvent, to target: MonitorTargets.Target) {
            if let settings = target.mail {
                self = .mail(MailMessage.text(event, settings: settings, host: MonitorRequests.host))
            } else if let request = MonitorRequests.request(for: event, to: target) {
                self = .http(request)
            } else {
                return nil
            }
        }
    }

    /// One try through sendmail (which queues and retries itself, so a second try could send
    /// the message twice); a failure or a timeout skips the target for the rest of the run.
    private func mail(_ message: String, event: MonitorEvent, target: MonitorTargets.Target, index: Int) {
        guard let problem = Sendmail.send(message, words: target.mail?.sendmail ?? [], within: config.timeout)
        else { return }
        down.withLock { _ = $0.insert(index) }
        warn(
            "the email \(target.display) did not go out for the \(event.state.rawValue) event: \(problem); "
                + "email is skipped for the rest of this run")
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
                    $0 = .failed(
                        error.map {
                            Redaction.shared.applyToChildOutput(MonitorTargets.Target.mask(in: $0.localizedDescription))
                        } ?? "no answer")
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
