import Foundation
import Testing

@testable import PGKeep

/// `copy --from-compose` / `--to-compose` against a stand-in `docker` (no engine runs here). It
/// checks what it gets (compose, exec -T, never -t, variables by name only) and runs the inner
/// command locally against the server the service stands for: `old` is the 15 server, `new`
/// the 16 one, each with its own client tools on PATH, as inside the container.
@Suite(.enabled(if: TestServer.enabled && Server16.enabled, "needs the 15 and 16 servers Scripts/test.sh starts"))
struct CopyComposeTests {
    func standIn() throws -> (bin: String, log: String) {
        StandInDocker.write(
            command: "docker",
            services: [
                "old": StandInDocker.postgres(
                    socket: TestServer.socketDir, port: TestServer.port, bin: TestServer.pgBin,
                    database: TestServer.pagila),
                "new": StandInDocker.postgres(
                    socket: Server16.socketDir, port: Server16.port, bin: Server16.bin, database: "app"),
            ],
            hooks: """
                unset PGPASSWORD
                for a in "$@"; do
                  case "$a" in *"FROM STDIN"*) if [ -n "${STANDIN_FAIL_LOAD:-}" ]; then
                    head -c 100000 > /dev/null; echo 'ERROR:  injected: the load failed' >&2; exit 3; fi ;; esac
                done
                """)
    }

    /// The upgrade inside compose: the old service's POSTGRES_DB (Pagila on 15) into the new
    /// service (16), read in one snapshot through psql in the old container, loaded by psql in the
    /// new one, validated, and checked again from outside.
    @Test func composeToComposeAcrossVersions() throws {
        let (bin, log) = try standIn()
        var env = CopyTestSupport.env
        env["PATH"] = bin + ":" + env["PATH"]!
        let target = TestServer.uniqueName("dc_pagila")
        defer { Server16.dropDatabase(target) }
        let r = try TestServer.pgkeep(
            [
                "copy", "--from-compose", "old", "--to-compose", "new", "--to", target, "--jobs", "2",
                "--compose-file", "/srv/app/compose.yml", "--json",
            ], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("validated: all equal"), "\(r.stderr)")
        #expect(try Server16.rowCounts(target) == TestServer.rowCounts(TestServer.pagila))
        #expect(try CopyTestSupport.leftovers("pgkeep_copy_", on16: true) == "0")
        let calls = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(calls.contains("-f /srv/app/compose.yml exec -T"), "\(calls)")
        #expect(calls.contains(" old pg_dump "), "\(calls)")
        #expect(calls.contains(" old psql "), "the source is read by psql in its service")
        #expect(calls.contains("SET TRANSACTION SNAPSHOT"), "every data worker imports the snapshot")
        #expect(calls.contains(" new psql "), "the target is loaded by psql in its service")
        #expect(calls.contains(" new vacuumdb "), "\(calls)")
        let c = try TestServer.pgkeep(
            ["compare", CopyTestSupport.uri15(TestServer.pagila), Server16.uri(target)], env: env)
        #expect(c.status == 0, "\(c.stderr)")
        // compare inside the services, both sides read by psql there: equal, then one row changed.
        let inside = try TestServer.pgkeep(
            ["compare", TestServer.pagila, target, "--a-compose", "old", "--b-compose", "new"], env: env)
        #expect(inside.status == 0, "\(inside.stderr)")
        #expect(inside.stderr.contains("equal: 21 tables, 13 sequences"), "\(inside.stderr)")
        _ = try Server16.psql(target, "UPDATE public.actor SET first_name = 'X' WHERE actor_id = 7")
        let changed = try TestServer.pgkeep(
            ["compare", TestServer.pagila, target, "--a-compose", "old", "--b-compose", "new", "--no-schema"],
            env: env)
        #expect(changed.status == 1, "\(changed.stderr)")
        #expect(changed.stderr.contains("public.actor"), "\(changed.stderr)")
    }

    /// One side local, one in compose, each way; a target that exists is refused before anything
    /// is written, and a load that fails in the service drops the unfinished copy.
    @Test func mixedSidesAndFailures() throws {
        let (bin, log) = try standIn()
        var env = CopyTestSupport.env
        env["PATH"] = bin + ":" + env["PATH"]!
        let onNew = TestServer.uniqueName("dc_local_to_new")
        let back = TestServer.uniqueName("dc_new_to_local")
        defer {
            Server16.dropDatabase(onNew)
            TestServer.dropDatabase(back)
        }
        let up = try TestServer.pgkeep(
            ["copy", "--from", CopyTestSupport.uri15(TestServer.pagila), "--to-compose", "new", "--to", onNew], env: env
        )
        #expect(up.status == 0, "\(up.stderr)")
        #expect(try Server16.rowCounts(onNew) == TestServer.rowCounts(TestServer.pagila))
        let down = try TestServer.pgkeep(
            ["copy", "--from-compose", "new", "--from", onNew, "--to", CopyTestSupport.uri15(back)], env: env)
        #expect(down.status == 0, "\(down.stderr)")
        #expect(try TestServer.rowCounts(back) == TestServer.rowCounts(TestServer.pagila))
        let again = try TestServer.pgkeep(
            ["copy", "--from", CopyTestSupport.uri15(TestServer.pagila), "--to-compose", "new", "--to", onNew], env: env
        )
        #expect(again.status != 0)
        #expect(again.stderr.contains("already exists"), "\(again.stderr)")
        // A load that fails inside the service (injected: the stand-in's psql dies mid-COPY).
        let bad = TestServer.uniqueName("dc_bad")
        env["STANDIN_FAIL_LOAD"] = "1"
        let failed = try TestServer.pgkeep(
            ["copy", "--from", CopyTestSupport.uri15(TestServer.pagila), "--to-compose", "new", "--to", bad], env: env)
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("injected: the load failed"), "\(failed.stderr)")
        #expect(failed.stderr.contains("was dropped"), "\(failed.stderr)")
        #expect(try CopyTestSupport.leftovers("pgkeep_copy_", on16: true) == "0")
        #expect(try Server16.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(bad)'") == "0")
        let calls = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(calls.contains(" new psql "))
        #expect(!calls.contains("devpw") && !calls.contains("PGPASSWORD="), "no password in argv")
    }

    /// SIGTERM in the data phase of a copy into a service: the scratch database is dropped through
    /// psql in the service (a child the cleanup itself starts after the signal).
    @Test func signalDuringLoadIntoServiceDropsTheCopy() throws {
        let (bin, _) = try standIn()
        var env = CopyTestSupport.env
        env["PATH"] = bin + ":" + env["PATH"]!
        let target = TestServer.uniqueName("dc_term")
        defer { Server16.dropDatabase(target) }
        var signalled = false
        let r = try TestServer.pgkeep(
            [
                "copy", "--from", CopyTestSupport.uri15(CopyTestSupport.bigDatabase), "--to-compose", "new", "--to",
                target,
            ],
            env: env
        ) { pid in
            signalled = CopyTestSupport.wait(seconds: 60) { CopyTestSupport.copyRunning(on16: true) }
            kill(pid, SIGTERM)
        }
        #expect(signalled, "the data phase was seen before the signal")
        #expect(r.status == 128 + SIGTERM, "\(r.stderr)")
        #expect(r.stderr.contains("dropped database \"pgkeep_copy_"), "\(r.stderr)")
        #expect(try CopyTestSupport.leftovers("pgkeep_copy_", on16: true) == "0")
    }
}
