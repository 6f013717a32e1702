import Foundation
import Testing

@testable import PGKeep

/// `pgkeep copy` and `pgkeep compare` against real servers: PostgreSQL 15 to 15 and 15 to 16
/// (the upgrade path), the validation catching what differs, and the promises under failure: an
/// interrupted or failed copy leaves no database behind.
@Suite(.enabled(if: TestServer.enabled && Server16.enabled, "needs the 15 and 16 servers Scripts/test.sh starts"))
struct CopyTests {
    let env = CopyTestSupport.env

    @Test func pagilaCopiesTo16AndComparesEqual() throws {
        let target = TestServer.uniqueName("pagila16")
        defer { Server16.dropDatabase(target) }
        let r = try TestServer.pgkeep(
            ["copy", "--from", CopyTestSupport.uri15(TestServer.pagila), "--to", Server16.uri(target), "--json"],
            env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("client tools 16.2 from \(Server16.bin)"), "the newest client: \(r.stderr)")
        #expect(r.stderr.contains("validated: all equal"), "\(r.stderr)")
        #expect(try Server16.rowCounts(target) == TestServer.rowCounts(TestServer.pagila))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["ok"] as? Bool == true)
        let result = try #require((json["results"] as? [[String: Any]])?.first)
        #expect(result["rows"] as? Int == (try TestServer.rowCounts(TestServer.pagila)).values.reduce(0, +))
        #expect(try CopyTestSupport.leftovers("pgkeep_copy_", on16: true) == "0")
        // And compare, on its own, agrees across the two major versions.
        let c = try TestServer.pgkeep(
            ["compare", CopyTestSupport.uri15(TestServer.pagila), Server16.uri(target), "--json"], env: env)
        #expect(c.status == 0, "\(c.stderr)")
        #expect(c.stderr.contains("equal: 21 tables, 13 sequences"), "\(c.stderr)")
    }

    /// Unusual names, partitions, generated columns, a materialized view, large objects, a
    /// database setting and comment: 15 to 16, validated, and checked again from outside.
    @Test func unusualDatabaseCopiesTo16() throws {
        let source = TestServer.uniqueName("odd")
        let target = source + "_on16"
        defer {
            TestServer.dropDatabase(source)
            Server16.dropDatabase(target)
        }
        try TestServer.createDatabase(source)
        _ = try TestServer.psql(
            "postgres", "ALTER DATABASE \(source) SET work_mem = '7MB'; COMMENT ON DATABASE \(source) IS 'odd one'")
        _ = try TestServer.psql(
            source,
            """
            CREATE SCHEMA "Odd Schema";
            CREATE TABLE "Odd Schema"."Tab ""Quoted"" Näme" ("Col A" int PRIMARY KEY, "select" text, "ünï" numeric,
              doubled int GENERATED ALWAYS AS ("Col A" * 2) STORED, raw bytea, f float8, at timestamptz);
            INSERT INTO "Odd Schema"."Tab ""Quoted"" Näme" ("Col A", "select", "ünï", raw, f, at)
              SELECT g, E'tab\\there ' || g || E'\\nnewline \\\\ back', g / 7.0, decode(md5(g::text), 'hex'),
                     g / 3.0, '2024-01-01 00:00+00'::timestamptz + g * interval '1 hour'
              FROM generate_series(1, 3000) g;
            INSERT INTO "Odd Schema"."Tab ""Quoted"" Näme" ("Col A", "select") VALUES (0, NULL);
            CREATE TABLE measures (at date NOT NULL, v int, id bigint GENERATED ALWAYS AS IDENTITY)
              PARTITION BY RANGE (at);
            CREATE TABLE measures_2024 PARTITION OF measures FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
            CREATE TABLE measures_2025 PARTITION OF measures FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
            INSERT INTO measures (at, v) SELECT date '2024-06-01' + g, g FROM generate_series(1, 400) g;
            CREATE MATERIALIZED VIEW per_year AS SELECT date_trunc('year', at) AS y, sum(v) AS total FROM measures GROUP BY 1;
            CREATE TABLE "empty table" ();
            SELECT lo_from_bytea(0, 'first large object'), lo_from_bytea(0, decode(repeat('ab', 5000), 'hex'));
            """)
        let r = try TestServer.pgkeep(
            ["copy", "--from", CopyTestSupport.uri15(source), "--to", Server16.uri(target)], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("validated: all equal"), "\(r.stderr)")
        #expect(try Server16.psql(target, "SELECT count(*) FROM pg_largeobject_metadata") == "2")
        #expect(try Server16.psql(target, "SELECT count(*) FROM per_year") == "2", "the matview is populated")
        #expect(
            try Server16.psql(target, "SELECT sum(doubled) FROM \"Odd Schema\".\"Tab \"\"Quoted\"\" Näme\"")
                == TestServer.psql(source, "SELECT sum(doubled) FROM \"Odd Schema\".\"Tab \"\"Quoted\"\" Näme\""))
        #expect(
            try Server16.psql(
                target,
                "SELECT setconfig::text FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = '\(target)'"
            ) == "{work_mem=7MB}")
        #expect(
            try Server16.psql(
                target, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '\(target)'")
                == "odd one")
        let c = try TestServer.pgkeep(["compare", CopyTestSupport.uri15(source), Server16.uri(target)], env: env)
        #expect(c.status == 0, "\(c.stderr)")
    }

    /// One row changed, one row deleted, one sequence reset: compare names each and exits 1.
    @Test func compareCatchesAChangedRowADeletedRowAndAResetSequence() throws {
        let target = TestServer.uniqueName("pagila_cmp")
        defer { TestServer.dropDatabase(target) }
        let r = try TestServer.pgkeep(
            ["copy", "--from", CopyTestSupport.uri15(TestServer.pagila), "--to", CopyTestSupport.uri15(target)],
            env: env)
        #expect(r.status == 0, "\(r.stderr)")
        _ = try TestServer.psql(
            target,
            """
            UPDATE actor SET last_name = 'CHANGED' WHERE actor_id = 7;
            DELETE FROM payment_p2022_01 WHERE payment_id = (SELECT min(payment_id) FROM payment_p2022_01);
            SELECT setval('film_film_id_seq', 1);
            """)
        let c = try TestServer.pgkeep(
            ["compare", TestServer.pagila, target, "--json"], env: env)
        #expect(c.status == ExitCodes.failure, "\(c.stderr)")
        #expect(c.stderr.contains("table public.actor: same row count (200) but different contents"), "\(c.stderr)")
        #expect(c.stderr.contains("table public.payment_p2022_01: 723 rows on the source, 722 on the target"))
        #expect(c.stderr.contains("sequence public.film_film_id_seq: last value 1000 on the source, 1 on the target"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(c.stdout.utf8)) as? [String: Any])
        #expect(json["ok"] as? Bool == false)
        let differences = (json["results"] as? [[String: Any]])?.first?["differences"] as? [String] ?? []
        #expect(differences.count == 3, "\(differences)")
        // The same with the data only: schema left out, the three still caught.
        let dataOnly = try TestServer.pgkeep(["compare", TestServer.pagila, target, "--no-schema"], env: env)
        #expect(dataOnly.status == ExitCodes.failure)
    }

    /// A database written to during the copy: the copy is the source as of its snapshot (the
    /// rows a single writer committed up to one instant, with no gaps), and validates.
    @Test func aLiveSourceIsCopiedAsOfOneInstant() throws {
        let source = TestServer.uniqueName("live")
        let target = source + "_copy"
        defer {
            TestServer.dropDatabase(source)
            Server16.dropDatabase(target)
        }
        _ = try TestServer.psql("postgres", "CREATE DATABASE \(source) TEMPLATE \(CopyTestSupport.bigDatabase)")
        _ = try TestServer.psql(source, "CREATE TABLE ticks (n int PRIMARY KEY, id serial)")
        let writer = ChildProcess(
            Command(
                executable: TestServer.pgBin + "/psql",
                arguments: [
                    "-X", "-q", "-d", source, "-c",
                    "DO $$ BEGIN FOR i IN 1..1000000 LOOP INSERT INTO ticks (n) VALUES (i); "
                        + "UPDATE big SET payload = 'moved ' || i WHERE id = 1 + (i * 7919) % 1500000; COMMIT; END LOOP; END $$",
                ], environment: TestServer.connectionEnv))
        try writer.start()
        defer { writer.terminate(grace: 1) }
        #expect(
            CopyTestSupport.wait(seconds: 30) {
                (try? TestServer.psql(source, "SELECT count(*) > 100 FROM ticks")) == "t"
            })
        let r = try TestServer.pgkeep(
            ["copy", "--from", CopyTestSupport.uri15(source), "--to", Server16.uri(target)], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("validated: all equal"), "\(r.stderr)")
        let copied = try Server16.psql(target, "SELECT count(*), max(n) FROM ticks")
        let parts = copied.split(separator: "|")
        #expect(parts.count == 2 && parts[0] == parts[1], "a prefix of the writer's rows, no gaps: \(copied)")
        let now = Int(try TestServer.psql(source, "SELECT count(*) FROM ticks")) ?? 0
        #expect(now > Int(parts.first ?? "0") ?? 0, "the writer went on after the snapshot")
    }

    @Test func anExistingTargetIsRefusedUnlessCleanYes() throws {
        let target = TestServer.uniqueName("exists")
        defer { TestServer.dropDatabase(target) }
        try TestServer.createDatabase(target)
        _ = try TestServer.psql(target, "CREATE TABLE keep_me (x int)")
        let from = CopyTestSupport.uri15(TestServer.pagila)
        let refused = try TestServer.pgkeep(["copy", "--from", from, "--to", CopyTestSupport.uri15(target)], env: env)
        #expect(refused.status == ExitCodes.usage, "\(refused.stderr)")
        #expect(refused.stderr.contains("already exists") && refused.stderr.contains("--clean --yes"))
        let noYes = try TestServer.pgkeep(
            ["copy", "--from", from, "--to", CopyTestSupport.uri15(target), "--clean"], env: env)
        #expect(noYes.status == ExitCodes.usage && noYes.stderr.contains("--yes"), "\(noYes.stderr)")
        #expect(try TestServer.psql(target, "SELECT count(*) FROM keep_me") == "0", "untouched")
        let replaced = try TestServer.pgkeep(
            ["copy", "--from", from, "--to", CopyTestSupport.uri15(target), "--clean", "--yes", "--jobs", "3"], env: env
        )
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(try TestServer.rowCounts(target) == TestServer.rowCounts(TestServer.pagila))
    }

    @Test func aLocaleTheTargetLacksNamesTheFlagAndLeavesNothing() throws {
        let target = TestServer.uniqueName("locale")
        let r = try TestServer.pgkeep(
            [
                "copy", "--from", CopyTestSupport.uri15(TestServer.pagila), "--to", Server16.uri(target), "--locale",
                "xx_NOWHERE.UTF-8",
            ], env: env)
        #expect(r.status == ExitCodes.preflight, "\(r.stderr)")
        #expect(r.stderr.contains("--locale") && r.stderr.contains("was dropped"), "\(r.stderr)")
        #expect(try CopyTestSupport.leftovers("pgkeep_copy_", on16: true) == "0")
        #expect(try Server16.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(target)'") == "0")
        // --locale with one the target has: the copy takes it.
        defer { Server16.dropDatabase(target) }
        let ok = try TestServer.pgkeep(
            [
                "copy", "--from", CopyTestSupport.uri15(TestServer.pagila), "--to", Server16.uri(target), "--locale",
                "C", "--no-verify",
            ], env: env)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stderr.contains("not validated (--no-verify)"))
        #expect(try Server16.psql("postgres", "SELECT datcollate FROM pg_database WHERE datname = '\(target)'") == "C")
    }

    @Test func dryRunListsWithoutCopying() throws {
        let target = TestServer.uniqueName("dry")
        let r = try TestServer.pgkeep(
            ["copy", "--from", CopyTestSupport.uri15(TestServer.pagila), "--to", Server16.uri(target), "--dry-run"],
            env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("public.rental\t"), "\(r.stdout)")
        #expect(r.stderr.contains("21 tables") && r.stderr.contains("13 sequences"), "\(r.stderr)")
        #expect(try Server16.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(target)'") == "0")
    }
}
