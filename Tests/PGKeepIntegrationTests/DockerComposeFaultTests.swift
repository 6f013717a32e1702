import Foundation
import Testing

@testable import PGKeep

/// What the engine cannot produce on demand, against the stand-in `docker` (StandInDocker): a
/// copy that arrives altered in the container, and the argument shape of the compose plugin
/// (`docker compose`, which Debian 12 does not ship).
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct DockerComposeFaultTests {
    func standIn(command: String) -> (bin: String, log: String) {
        StandInDocker.write(
            command: command,
            services: [
                "db": StandInDocker.postgres(
                    socket: TestServer.socketDir, port: TestServer.port, bin: TestServer.pgBin,
                    database: TestServer.pagila)
            ],
            hooks: """
                for a in "$@"; do case "$a" in of=*) out=${a#of=} ;; esac; done
                if [ -n "${out:-}" ] && [ -n "${STANDIN_CORRUPT:-}" ]; then
                  cat > /dev/null; printf 'garbage' > "$out"; exit 0
                fi
                """)
    }

    func composeEnv(_ bin: String, _ extra: [String: String] = [:]) -> [String: String] {
        var env = TestServer.connectionEnv
        env["PATH"] = bin + ":" + env["PATH"]!
        for k in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"] { env[k] = nil }
        return env.merging(extra) { $1 }
    }

    @Test func aCorruptedCopyInTheContainerIsRefused() throws {
        let (bin, _) = standIn(command: "docker")
        let dir = TestServer.tempDir("dcbad")
        #expect(try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir]).status == 0)
        let manifest = try #require(try TestServer.manifests(dir).first).path
        let target = TestServer.uniqueName("dc_bad")
        try TestServer.createDatabase(target)
        defer { TestServer.dropDatabase(target) }
        let run = try TestServer.pgkeep(
            ["restore", manifest, "--docker-compose", "db"],
            env: composeEnv(bin, ["STANDIN_DB": target, "STANDIN_CORRUPT": "1"]))
        #expect(run.status == ExitCodes.failure, "\(run.stderr)")
        #expect(run.stderr.contains("does not match what was sent"), "\(run.stderr)")
        #expect(try TestServer.rowCounts(target).isEmpty)
        let left = (try FileManager.default.contentsOfDirectory(atPath: "/tmp")).filter {
            $0.hasPrefix(".pgkeep-\(run.pid)-")
        }
        #expect(left.isEmpty, "the altered copy and the markers are removed: \(left)")
    }

    /// `docker compose` (the plugin): compose, -f and --project-directory before exec -T, never
    /// -t, variables by name only, every command under pgkeep's wrapper.
    @Test func thePluginIsCalledAsComposeExpects() throws {
        let (bin, log) = standIn(command: "docker")
        let dir = TestServer.tempDir("dcplugin")
        let run = try TestServer.pgkeep(
            [
                "backup", "--docker-compose", "db", "--compose-file", "/srv/app/compose.yml", "--project-directory",
                "/srv/app", "--dir", dir,
            ], env: composeEnv(bin))
        #expect(run.status == 0, "\(run.stderr)")
        let calls = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(
            calls.contains(
                "compose -f /srv/app/compose.yml --project-directory /srv/app exec -T -e PGAPPNAME db sh -c"),
            "\(calls)")
        #expect(calls.contains(" pg_dump --no-password --username=postgres --dbname=\(TestServer.pagila)"), "\(calls)")
    }
}
