import Foundation

/// The container behind a compose service, reached with the `docker` client itself once compose
/// has named it. Each `docker-compose exec` (1.29, Python) costs about 0.6 s of start-up, and a
/// backup runs five or more commands in the service; `docker exec` costs a few tens of
/// milliseconds. Compose is asked once (`ps -q SERVICE`) and, when it names exactly one container
/// and a `docker` client is on PATH, every later command goes to that container with
/// `docker exec -i` (stdin attached, as `exec -T` attaches it; no TTY). A service compose cannot
/// name (not created, several replicas, no `docker` client) keeps `compose exec -T`, whose own
/// message then says what is wrong.
struct ComposeContainer: Sendable, Equatable {
    let docker: String
    let id: String

    /// `docker exec -i [-e NAME]... ID inner...`: variables by name only, as compose passes them.
    func execArguments(passingEnvironment names: [String], inner: [String]) -> [String] {
        DockerComposeOptions.exec("-i", in: id, passingEnvironment: names, inner: inner)
    }

    /// The container compose names for `service`, or nil when the fast path does not apply.
    /// `PGKEEP_COMPOSE_EXEC=compose` turns the fast path off (every command through compose).
    static func resolve(
        compose: Command, service: String, environment: [String: String], searchPath: [String]
    ) -> ComposeContainer? {
        guard environment["PGKEEP_COMPOSE_EXEC"] != "compose",
            let docker = Command.find("docker", environment: [:], searchPath: searchPath)
        else { return nil }
        var ps = compose
        ps.arguments += ["ps", "-q", service]
        guard let (out, result) = try? ChildProcess.capture(ps), result.succeeded else { return nil }
        let ids = String(decoding: out, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard ids.count == 1, let id = ids.first, id.allSatisfy(\.isHexDigit) else { return nil }
        return ComposeContainer(docker: docker, id: id)
    }
}
