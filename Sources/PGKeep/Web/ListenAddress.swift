import FlyingSocks
import Foundation

/// `[daemon] listen`: `HOST:PORT` with an IP address (`127.0.0.1:9187`, `[::1]:9187`,
/// `0.0.0.0:9187`), or a port alone (`9187`, `:9187`), which means loopback: the endpoints are
/// reachable from elsewhere only when the config says so. Port 0 takes a free port (the daemon's
/// log says which).
public struct ListenAddress: Sendable, Equatable {
    public var host: String
    public var port: UInt16
    public var text: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public init(_ given: String) throws {
        let value = given.trimmingCharacters(in: .whitespaces)
        var host = "127.0.0.1"
        var portText = value
        if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
            host = String(value[value.index(after: value.startIndex)..<close])
            portText = String(value[value.index(after: close)...])
            guard portText.hasPrefix(":") else { throw Self.invalid(given) }
            portText.removeFirst()
        } else if let colon = value.lastIndex(of: ":") {
            let h = String(value[..<colon])
            if !h.isEmpty { host = h == "localhost" ? "127.0.0.1" : h }
            portText = String(value[value.index(after: colon)...])
        }
        guard let port = UInt16(portText) else { throw Self.invalid(given) }
        var v4 = in_addr()
        var v6 = in6_addr()
        guard inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 else {
            throw Self.invalid(given)
        }
        self.host = host
        self.port = port
    }

    static func invalid(_ given: String) -> PGKeepError {
        PGKeepError(
            .usage, "[daemon] listen: \"\(given)\" is not HOST:PORT with an IP address",
            hint: "e.g. listen = \"127.0.0.1:9187\" (loopback), \"0.0.0.0:9187\" (every interface) or \"9187\"")
    }

    func socketAddress() throws -> any SocketAddress {
        host.contains(":") ? try sockaddr_in6.inet6(ip6: host, port: port) : try sockaddr_in.inet(ip4: host, port: port)
    }
}

/// Basic authentication for the status page: a file of `user:password` lines (blank lines and
/// `#` comments ignored), read once at start; its passwords are masked in every message.
struct BasicAuth: Sendable {
    let accepted: [[UInt8]]

    init(file: String) throws {
        guard let text = FileSystem.readSecret(file) else {
            throw PGKeepError(
                .usage, "[daemon] auth_file: cannot read \(file)",
                hint: "write one user:password line into it (readable by the daemon's user only)")
        }
        var accepted: [[UInt8]] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let entry = line.trimmingCharacters(in: .whitespaces)
            guard !entry.isEmpty, !entry.hasPrefix("#") else { continue }
            guard let colon = entry.firstIndex(of: ":"), colon != entry.startIndex,
                entry.index(after: colon) != entry.endIndex
            else {
                throw PGKeepError(
                    .usage, "[daemon] auth_file \(file): a line is not user:password (both non-empty)")
            }
            Redaction.shared.register(String(entry[entry.index(after: colon)...]))
            accepted.append(Array(entry.utf8))
        }
        guard !accepted.isEmpty else { throw PGKeepError(.usage, "[daemon] auth_file \(file) holds no user:password") }
        self.accepted = accepted
    }

    /// Whether an `Authorization` header carries one of the pairs (compared in constant time).
    func admits(_ header: String?) -> Bool {
        guard let header, header.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces))
        else { return false }
        let given = [UInt8](decoded)
        var found = false
        for pair in accepted {
            var diff = UInt8(pair.count == given.count ? 0 : 1)
            for i in 0..<pair.count { diff |= pair[i] ^ (i < given.count ? given[i] : 0) }
            if diff == 0 { found = true }
        }
        return found
    }
}
