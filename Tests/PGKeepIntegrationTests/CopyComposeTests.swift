import Foundation
import Testing

@testable import PGKeep

/// `copy --from-compose` / `--to-compose` and `compare --a-compose/--b-compose` on the real engine:
/// `db` is PostgreSQL 15 with Pagila, `new` is 16; each side's tools are the container's own.
@Suite(.enabled(if: RealDocker.enabled && Server16.enabled, "needs the engine and the 16 client"), .serialized)
struct CopyComposeTests {
    var env: [String: String] {
        var e = CopyTestSupport.env
        e["DOCKER_HOST"] = RealDocker.host
        return e
    }

    func scratchCopies(_ project: ComposeProject) throws -> String {
        try project.psql("new", "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgkeep_copy_%'")
    }

    /// The upgrade inside compose: the 15 service's POSTGRES_DB (Pagila) into the 16 service, read
    /// in one snapshot through psql in the old container, loaded by psql in the new one,
    /// validated, and compared again by both services' psql: equal, then one row changed.
    @Test func composeToComposeAcrossVersions() throws {
        let project = try RealDocker.project()
        let target = TestServer.uniqueName("dc_pagila")
        defer { project.dropDatabase("new", target) }
        let r = try TestServer.pgkeep(
            ["copy", "--from-compose", "db", "--to-compose", "new", "--to", target, "--jobs", "2", "--json"]
                + project.files, env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("validated: all equal"), "\(r.stderr)")
        #expect(try project.rowCounts("new", target) == TestServer.rowCounts(TestServer.pagila))
        #expect(try scratchCopies(project) == "0")
        #expect(try project.leftovers("db", of: r.pid).isEmpty && project.leftovers("new", of: r.pid).isEmpty)
        let inside = try TestServer.pgkeep(
            ["compare", TestServer.pagila, target, "--a-compose", "db", "--b-compose", "new"] + project.files, env: env)
        #expect(inside.status == 0, "\(inside.stderr)")
        #expect(inside.stderr.contains("equal: 21 tables, 13 sequences"), "\(inside.stderr)")
        _ = try project.psql("new", target, "UPDATE public.actor SET first_name = 'X' WHERE actor_id = 7")
        let changed = try TestServer.pgkeep(
            ["compare", TestServer.pagila, target, "--a-compose", "db", "--b-compose", "new", "--no-schema"]
                + project.files, env: env)
        #expect(changed.status == 1, "\(changed.stderr)")
        #expect(changed.stderr.contains("public.actor"), "\(changed.stderr)")
        #expect(try project.leftovers("new", of: changed.pid).isEmpty)
    }

    /// A small database on this machine (two tables, a sequence), made once.
    static let small: String = {
        let db = TestServer.uniqueName("dc_small")
        do {
            try TestServer.createDatabase(db)
            _ = try TestServer.psql(
                db,
                """
                CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL, price numeric(8,2));
                INSERT INTO item (name, price) SELECT 'item ' || g, g * 1.5 FROM generate_series(1, 500) g;
                CREATE TABLE note (id int REFERENCES item, body text);
                INSERT INTO note SELECT g, E'line\\nwith tab\\tand quote '' ' || g FROM generate_series(1, 500, 7) g;
                """)
        } catch {
            Issue.record("cannot build the small database: \(error)")
        }
        return db
    }()

    /// One side on this machine, one in compose, each way; a target that exists is refused
    /// before anything is written.
    @Test func mixedSides() throws {
        let project = try RealDocker.project()
        let onNew = TestServer.uniqueName("dc_local_to_new")
        let back = TestServer.uniqueName("dc_new_to_local")
        defer {
            TestServer.dropDatabase(back)
            project.dropDatabase("new", onNew)
        }
        let up = try TestServer.pgkeep(
            ["copy", "--from", CopyTestSupport.uri15(Self.small), "--to-compose", "new", "--to", onNew] + project.files,
            env: env)
        #expect(up.status == 0, "\(up.stderr)")
        #expect(try project.rowCounts("new", onNew) == TestServer.rowCounts(Self.small))
        let down = try TestServer.pgkeep(
            ["copy", "--from-compose", "new", "--from", onNew, "--to", CopyTestSupport.uri15(back)] + project.files,
            env: env)
        #expect(down.status == 0, "\(down.stderr)")
        #expect(try TestServer.rowCounts(back) == TestServer.rowCounts(Self.small))
        let c = try TestServer.pgkeep(
            ["compare", CopyTestSupport.uri15(Self.small), CopyTestSupport.uri15(back)], env: env)
        #expect(c.status == 0, "the round trip through the service is equal: \(c.stderr)")
        let again = try TestServer.pgkeep(
            ["copy", "--from", CopyTestSupport.uri15(Self.small), "--to-compose", "new", "--to", onNew] + project.files,
            env: env)
        #expect(again.status != 0)
        #expect(again.stderr.contains("already exists"), "\(again.stderr)")
        for run in [up, down, again] { #expect(try project.leftovers("new", of: run.pid).isEmpty) }
    }

    /// SIGTERM in the data phase of a copy into a service: the scratch database is dropped through
    /// psql in the service (a child the cleanup itself starts after the signal), and nothing of
    /// the run stays there.
    @Test func signalDuringLoadIntoServiceDropsTheCopy() throws {
        let project = try RealDocker.project()
        let target = TestServer.uniqueName("dc_term")
        var signalled = false
        let r = try TestServer.pgkeep(
            [
                "copy", "--from", CopyTestSupport.uri15(CopyTestSupport.bigDatabase), "--to-compose", "new", "--to",
                target,
            ]
                + project.files, env: env
        ) { pid in
            signalled = CopyTestSupport.wait(seconds: 60) {
                (try? project.psql(
                    "new", "postgres",
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY % FROM STDIN%' AND state = 'active'"))
                    ?? "0" != "0"
            }
            kill(pid, SIGTERM)
        }
        #expect(signalled, "the data phase was seen before the signal")
        #expect(r.status == 128 + SIGTERM, "\(r.stderr)")
        #expect(r.stderr.contains("dropped database \"pgkeep_copy_"), "\(r.stderr)")
        #expect(try scratchCopies(project) == "0")
        #expect(try project.leftoversAfter("new", of: r.pid).isEmpty)
    }
}

/// A load that fails inside the service, injected through the stand-in `docker` (its psql dies
/// mid-COPY; the engine cannot fail on demand): the unfinished copy is dropped.
@Suite(.enabled(if: TestServer.enabled && Server16.enabled, "needs the 15 and 16 servers Scripts/test.sh starts"))
struct CopyComposeFaultTests {
    @Test func aLoadThatFailsInTheServiceDropsTheCopy() throws {
        let (bin, log) = StandInDocker.write(
            command: "docker",
            services: [
                "new": StandInDocker.postgres(
                    socket: Server16.socketDir, port: Server16.port, bin: Server16.bin, database: "app")
            ],
            hooks: """
                unset PGPASSWORD
                for a in "$@"; do
                  case "$a" in *"FROM STDIN"*)
                    head -c 100000 > /dev/null; echo 'ERROR:  injected: the load failed' >&2; exit 3 ;; esac
                done
                """)
        var env = CopyTestSupport.env
        env["PATH"] = bin + ":" + env["PATH"]!
        let bad = TestServer.uniqueName("dc_bad")
        let failed = try TestServer.pgkeep(
            ["copy", "--from", CopyTestSupport.uri15(TestServer.pagila), "--to-compose", "new", "--to", bad], env: env)
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("injected: the load failed"), "\(failed.stderr)")
        #expect(failed.stderr.contains("was dropped"), "\(failed.stderr)")
        #expect(try CopyTestSupport.leftovers("pgkeep_copy_", on16: true) == "0")
        #expect(try Server16.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(bad)'") == "0")
        let calls = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(calls.contains(" new sh -c "), "every command under pgkeep's wrapper")
        #expect(!calls.contains("devpw") && !calls.contains("PGPASSWORD="), "no password in argv")
    }
}
