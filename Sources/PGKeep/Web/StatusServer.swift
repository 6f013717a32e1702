import FlyingFox
import FlyingSocks
import Foundation

/// The daemon's HTTP endpoints (FlyingFox), read-only: `GET /healthz` (200 exactly when `pgkeep
/// status` would exit 0, else 503 and the reasons), `GET /metrics` (what `status --format
/// prometheus` prints, and the daemon's own), `GET /` (the status page, behind basic auth when
/// an auth file is given). Nothing it serves changes anything; every other method is refused.
///
/// The status behind all three is gathered at most once per `refresh` seconds, by one thread at
/// a time, whatever the number of requests (`StatusCache`): a hundred clients cost what one does,
/// and none of them touches the backup in progress beyond reading its directory.
public final class StatusServer: Sendable {
    public let address: ListenAddress
    let cache: StatusCache
    let credentials: BasicAuth?
    private let server: HTTPServer

    public init(listen: String, authFile: String?, refresh: TimeInterval = 2, gather: @escaping @Sendable () -> Page)
        throws
    {
        address = try ListenAddress(listen)
        cache = StatusCache(refresh: refresh, gather: gather)
        credentials = try authFile.map(BasicAuth.init(file:))
        server = HTTPServer(address: try address.socketAddress(), timeout: 15, logger: .disabled)
    }

    /// What one gathering produced: the three bodies.
    public struct Page: Sendable {
        public var ok: Bool
        public var reasons: [String]
        public var html: String
        public var metrics: String
        public init(ok: Bool, reasons: [String], html: String, metrics: String) {
            self.ok = ok
            self.reasons = reasons
            self.html = html
            self.metrics = metrics
        }
    }

    /// Starts listening (in the background) and returns the URL it listens on; throws when the
    /// address cannot be bound.
    /// `stopped` hears it when the server ends after it started (an accept that failed, e.g.
    /// out of file descriptors): the endpoints are gone, the daemon's schedule goes on.
    public func start(stopped: @escaping @Sendable (String) -> Void = { _ in }) throws -> String {
        let server = self.server
        let cache = self.cache
        let credentials = self.credentials
        let outcome = Locked<Result<String, any Error>?>(nil)
        let ready = DispatchSemaphore(value: 0)
        // The first of "listening" and "run failed" decides.
        let resolve: @Sendable (Result<String, any Error>) -> Void = { result in
            let first = outcome.withLock { o -> Bool in
                guard o == nil else { return false }
                o = result
                return true
            }
            if first {
                ready.signal()
            } else if case .failure(let error) = result {
                stopped("the HTTP endpoints stopped: \(error)")
            }
        }
        Task {
            await Self.routes(server, cache: cache, credentials: credentials)
            Task {
                do {
                    try await server.run()
                    resolve(.failure(PGKeepError(.usage, "the server stopped")))
                } catch { resolve(.failure(error)) }
            }
            do {
                try await server.waitUntilListening(timeout: 5)
                resolve(.success(await Self.url(server)))
            } catch { resolve(.failure(error)) }
        }
        ready.wait()
        switch outcome.current {
        case .success(let url)?: return url
        case .failure(let error)?:
            var why = "\(error)"
            if case .failed(let call, _, let message) = error as? SocketError {
                why = "\(call.lowercased()): \(message)"
            }
            throw PGKeepError(
                .usage, "the daemon cannot listen on \(address.text): \(why)",
                hint: "[daemon] listen takes HOST:PORT (an IP address), e.g. 127.0.0.1:9187; is the port in use?")
        case nil: throw PGKeepError(.usage, "the daemon cannot listen on \(address.text)")
        }
    }

    static func routes(_ server: HTTPServer, cache: StatusCache, credentials: BasicAuth?) async {
        await server.appendRoute("GET,HEAD /healthz") { request in
            let page = await cache.page()
            let body = page.ok ? "ok\n" : page.reasons.joined(separator: "\n") + "\n"
            return response(
                page.ok ? .ok : .serviceUnavailable, body, type: "text/plain; charset=utf-8", for: request)
        }
        await server.appendRoute("GET,HEAD /metrics") { request in
            let page = await cache.page()
            return response(.ok, page.metrics, type: "text/plain; version=0.0.4; charset=utf-8", for: request)
        }
        await server.appendRoute("GET,HEAD /") { request in
            if let credentials, !credentials.admits(request.headers[.authorization]) {
                var denied = response(.unauthorized, "authentication required\n", type: "text/plain", for: request)
                denied.headers[HTTPHeader("WWW-Authenticate")] = "Basic realm=\"pgkeep\", charset=\"UTF-8\""
                return denied
            }
            return response(.ok, await cache.page().html, type: "text/html; charset=utf-8", for: request)
        }
        await server.appendRoute("*") { request in
            let allowed = ["GET", "HEAD"].contains(request.method.rawValue)
            var answer = response(
                allowed ? .notFound : .methodNotAllowed, allowed ? "not found\n" : "read-only: GET or HEAD\n",
                type: "text/plain", for: request)
            if !allowed { answer.headers[HTTPHeader("Allow")] = "GET, HEAD" }
            return answer
        }
    }

    /// Drops the cached status (a run just ended): the next request gathers it anew.
    public func invalidate() { cache.invalidate() }

    static func url(_ server: HTTPServer) async -> String {
        guard let bound = await server.listeningAddress else { return "?" }
        switch bound {
        case .ip4(let ip, let port): return "http://\(ip):\(port)"
        case .ip6(let ip, let port): return "http://[\(ip)]:\(port)"
        default: return "\(bound)"
        }
    }

    /// An answer with its security headers; to HEAD, the headers alone (the length GET's body has).
    static func response(_ status: HTTPStatusCode, _ body: String, type: String, for request: HTTPRequest)
        -> HTTPResponse
    {
        let data = Data(body.utf8)
        var headers: HTTPHeaders = [
            .contentType: type, .cacheControl: "no-store", HTTPHeader("X-Content-Type-Options"): "nosniff",
            HTTPHeader("Content-Security-Policy"): StatusPage.contentSecurityPolicy,
            HTTPHeader("Referrer-Policy"): "no-referrer", HTTPHeader("X-Frame-Options"): "DENY",
        ]
        guard request.method == .HEAD else { return HTTPResponse(statusCode: status, headers: headers, body: data) }
        headers[.contentLength] = String(data.count)
        return HTTPResponse(statusCode: status, headers: headers, body: Data())
    }
}

/// The status, gathered at most once per `refresh` seconds and by one thread at a time. A
/// request never waits for a gathering when a page is cached: a stale page is served while a new
/// one is gathered in the background (so a slow remote listing never makes a probe time out), and
/// `/healthz` is at most one gathering behind. Only the first request, and the first after a run
/// ended (`invalidate`), waits for a page gathered after it came. A gathering that began before an
/// `invalidate` is not cached.
final class StatusCache: Sendable {
    let refresh: TimeInterval
    let gather: @Sendable () -> StatusServer.Page
    private struct State {
        var page: StatusServer.Page?
        var at = Date.distantPast
        var generation = 0
        var gathering = false
    }
    private let state = Locked(State())
    private let queue = DispatchQueue(label: "pgkeep-status-gather")

    init(refresh: TimeInterval, gather: @escaping @Sendable () -> StatusServer.Page) {
        self.refresh = refresh
        self.gather = gather
    }

    func page() async -> StatusServer.Page {
        let (cached, startBackground) = state.withLock { s -> (StatusServer.Page?, Bool) in
            guard let page = s.page else { return (nil, false) }
            if Date().timeIntervalSince(s.at) < refresh || s.gathering { return (page, false) }
            s.gathering = true
            return (page, true)
        }
        if startBackground { queue.async { [self] in _ = gatherNow() } }
        if let cached { return cached }
        let asked = Date()
        return await withCheckedContinuation { continuation in
            queue.async { [self] in
                // A page finished after this request came is as fresh as it can ask.
                let done = state.withLock { s in s.page.flatMap { s.at >= asked ? $0 : nil } }
                continuation.resume(returning: done ?? gatherNow())
            }
        }
    }

    /// Gathers (on the queue) and caches the page unless an `invalidate` came meanwhile.
    private func gatherNow() -> StatusServer.Page {
        let generation = state.withLock { s -> Int in
            s.gathering = true
            return s.generation
        }
        let page = gather()
        state.withLock { s in
            s.gathering = false
            guard s.generation == generation else { return }
            s.page = page
            s.at = Date()
        }
        return page
    }

    func invalidate() {
        state.withLock { s in
            s.page = nil
            s.generation += 1
        }
    }
}
