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
    public func start() throws -> String {
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
            if first { ready.signal() }
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
        await server.appendRoute("GET,HEAD /healthz") { _ in
            let page = await cache.page()
            let body = page.ok ? "ok\n" : page.reasons.joined(separator: "\n") + "\n"
            return response(page.ok ? .ok : .serviceUnavailable, body, type: "text/plain; charset=utf-8")
        }
        await server.appendRoute("GET,HEAD /metrics") { _ in
            let page = await cache.page()
            return response(.ok, page.metrics, type: "text/plain; version=0.0.4; charset=utf-8")
        }
        await server.appendRoute("GET,HEAD /") { request in
            if let credentials, !credentials.admits(request.headers[.authorization]) {
                var denied = response(.unauthorized, "authentication required\n", type: "text/plain")
                denied.headers[HTTPHeader("WWW-Authenticate")] = "Basic realm=\"pgkeep\", charset=\"UTF-8\""
                return denied
            }
            return response(.ok, await cache.page().html, type: "text/html; charset=utf-8")
        }
        await server.appendRoute("*") { request in
            let allowed = ["GET", "HEAD"].contains(request.method.rawValue)
            return response(
                allowed ? .notFound : .methodNotAllowed, allowed ? "not found\n" : "read-only: GET or HEAD\n",
                type: "text/plain")
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

    static func response(_ status: HTTPStatusCode, _ body: String, type: String) -> HTTPResponse {
        HTTPResponse(
            statusCode: status,
            headers: [
                .contentType: type, .cacheControl: "no-store", HTTPHeader("X-Content-Type-Options"): "nosniff",
                HTTPHeader("Content-Security-Policy"): StatusPage.contentSecurityPolicy,
                HTTPHeader("Referrer-Policy"): "no-referrer", HTTPHeader("X-Frame-Options"): "DENY",
            ], body: Data(body.utf8))
    }
}

/// The status, gathered at most once per `refresh` seconds and by one caller at a time.
final class StatusCache: Sendable {
    let refresh: TimeInterval
    let gather: @Sendable () -> StatusServer.Page
    private let cached = Locked<(page: StatusServer.Page, at: Date)?>(nil)
    private let queue = DispatchQueue(label: "pgkeep-status-gather")

    init(refresh: TimeInterval, gather: @escaping @Sendable () -> StatusServer.Page) {
        self.refresh = refresh
        self.gather = gather
    }

    func page() async -> StatusServer.Page {
        if let hit = fresh() { return hit }
        let asked = Date()
        return await withCheckedContinuation { continuation in
            queue.async { [self] in
                // Whoever waited behind the gatherer finds its result: one finished after the
                // request came is as fresh as the request can ask, even when gathering is slow.
                if let hit = fresh(since: asked) { return continuation.resume(returning: hit) }
                let page = gather()
                cached.withLock { $0 = (page, Date()) }
                continuation.resume(returning: page)
            }
        }
    }

    /// The cached page when it is younger than `refresh`, or was finished after `since`.
    private func fresh(since: Date? = nil) -> StatusServer.Page? {
        guard let c = cached.current else { return nil }
        if let since, c.at >= since { return c.page }
        return Date().timeIntervalSince(c.at) < refresh ? c.page : nil
    }

    func invalidate() { cached.withLock { $0 = nil } }
}
