import Foundation
import Testing

@testable import PGKeep

/// A round trip through a far richer database than Pagila: a hundred generated tables,
/// inheritance, partitions, rules, row-level security policies, a publication, extended
/// statistics, PL/pgSQL and SQL functions, an operator, domains and enums, a materialized view,
/// generated and identity columns, sequences, large objects, comments on every kind of object,
/// database settings and privileges. Compared by schema, per-table row counts and content hashes,
/// sequences, large objects and the database's own properties, in each format and restore mode.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct RichRoundTripTests {
    static let schema = """
        CREATE SCHEMA app;
        CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
        CREATE DOMAIN app.positive AS int CHECK (VALUE > 0);
        CREATE FUNCTION app.add_one(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1';
        CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.updated := now(); RETURN NEW; END $$;
        CREATE FUNCTION app.text_eq(text, text) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT lower($1) = lower($2)';
        CREATE OPERATOR app.=~= (LEFTARG = text, RIGHTARG = text, FUNCTION = app.text_eq);
        DO $$ BEGIN
          FOR i IN 1..100 LOOP
            EXECUTE format('CREATE TABLE app.t%s (id int PRIMARY KEY, v text, n app.positive)', i);
            EXECUTE format('INSERT INTO app.t%s SELECT g, md5(g::text), g FROM generate_series(1, %s) g', i, i * 3);
            EXECUTE format('COMMENT ON TABLE app.t%s IS %L', i, 'table number ' || i);
          END LOOP;
        END $$;
        CREATE TABLE app.parent (id int, note text);
        CREATE TABLE app.child (extra int) INHERITS (app.parent);
        INSERT INTO app.parent VALUES (1, 'p'); INSERT INTO app.child VALUES (2, 'c', 3);
        CREATE TABLE app.events (id bigint GENERATED ALWAYS AS IDENTITY, at date NOT NULL, mood app.mood,
            qty int, doubled int GENERATED ALWAYS AS (qty * 2) STORED, updated timestamptz) PARTITION BY RANGE (at);
        CREATE TABLE app.events_2025 PARTITION OF app.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE TABLE app.events_2026 PARTITION OF app.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
        CREATE INDEX events_at ON app.events (at);
        CREATE TRIGGER events_touch BEFORE UPDATE ON app.events_2026 FOR EACH ROW EXECUTE FUNCTION app.touch();
        INSERT INTO app.events (at, mood, qty)
            SELECT date '2025-06-01' + g, (ARRAY['sad','ok','happy'])[1 + g % 3]::app.mood, g FROM generate_series(0, 400) g;
        CREATE TABLE app.audit (id serial PRIMARY KEY, what text);
        CREATE RULE no_delete AS ON DELETE TO app.audit DO INSTEAD NOTHING;
        INSERT INTO app.audit (what) VALUES ('one'), ('two');
        SELECT setval('app.audit_id_seq', 1000);
        CREATE SEQUENCE app.standalone START 7;
        SELECT nextval('app.standalone'), nextval('app.standalone');
        ALTER TABLE app.t1 ENABLE ROW LEVEL SECURITY;
        CREATE POLICY only_small ON app.t1 USING (id < 100);
        CREATE PUBLICATION pub_rich FOR TABLE app.t2, app.t3;
        CREATE STATISTICS app.t4_stats (dependencies) ON id, n FROM app.t4;
        CREATE MATERIALIZED VIEW app.mood_counts AS SELECT mood, count(*) AS n FROM app.events GROUP BY mood;
        CREATE VIEW app.big AS SELECT * FROM app.t100 WHERE id > 10;
        CREATE INDEX t5_v ON app.t5 (v);
        COMMENT ON INDEX app.t5_v IS 'index comment';
        COMMENT ON CONSTRAINT t6_pkey ON app.t6 IS 'constraint comment';
        COMMENT ON COLUMN app.t7.v IS 'column comment';
        COMMENT ON FUNCTION app.add_one(int) IS 'function comment';
        COMMENT ON TYPE app.mood IS 'type comment';
        COMMENT ON SCHEMA app IS 'schema comment';
        COMMENT ON SEQUENCE app.standalone IS 'sequence comment';
        COMMENT ON VIEW app.big IS 'view comment';
        COMMENT ON MATERIALIZED VIEW app.mood_counts IS 'matview comment';
        COMMENT ON TRIGGER events_touch ON app.events_2026 IS 'trigger comment';
        COMMENT ON RULE no_delete ON app.audit IS 'rule comment';
        COMMENT ON POLICY only_small ON app.t1 IS 'policy comment';
        COMMENT ON OPERATOR app.=~= (text, text) IS 'operator comment';
        COMMENT ON DOMAIN app.positive IS 'domain comment';
        COMMENT ON PUBLICATION pub_rich IS 'publication comment';
        COMMENT ON STATISTICS app.t4_stats IS 'statistics comment';
        SELECT lo_from_bytea(0, 'large object one'), lo_from_bytea(0, 'large object two');
        """

    static let source: String = {
        let db = TestServer.uniqueName("rich")
        do {
            _ = try TestServer.psql("postgres", "CREATE DATABASE \(db) TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'")
            _ = try TestServer.psql(
                "postgres",
                "ALTER DATABASE \(db) SET work_mem = '9MB'; COMMENT ON DATABASE \(db) IS 'rich'; "
                    + "REVOKE CONNECT ON DATABASE \(db) FROM PUBLIC")
            _ = try TestServer.psql(db, schema)
        } catch {
            Issue.record("cannot build the rich database: \(error)")
        }
        return db
    }()

    /// Schema (without pg_dump's session-specific lines), then per table: rows and a content hash,
    /// then sequences and large objects.
    static func fingerprint(_ db: String, in project: ComposeProject? = nil) throws -> String {
        let psql = { (db: String, sql: String) in try project?.psql("db", db, sql) ?? TestServer.psql(db, sql) }
        let data = try psql(
            db,
            """
            SELECT string_agg(t, E'\\n' ORDER BY t) FROM (
              SELECT format('%s rows=%s hash=%s', c.oid::regclass,
                (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM ONLY %s', c.oid::regclass), false, true, '')))[1]::text,
                (xpath('/row/h/text()', query_to_xml(format(
                  'SELECT md5(coalesce(string_agg(r::text, %L ORDER BY r::text), %L)) AS h FROM ONLY %s r', ',', '', c.oid::regclass),
                  false, true, '')))[1]::text) AS t
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'm') AND n.nspname = 'app'
              UNION ALL SELECT format('sequence %s last=%s called=%s', sequencename, last_value, last_value IS NOT NULL)
                FROM pg_sequences WHERE schemaname = 'app'
              UNION ALL SELECT 'large objects ' || count(*) || ' ' || coalesce(md5(string_agg(encode(lo_get(oid), 'hex'), ',' ORDER BY oid)), '')
                FROM pg_largeobject_metadata
            ) x
            """)
        return try (project?.schema("db", db) ?? TestServer.schema(db)) + "\n" + data
    }

    /// (label, backup format, restore arguments, whether the restore makes the database itself)
    static let modes: [(String, String, [String], Bool)] = [
        ("custom --create", "custom", ["--create"], true),
        ("plain into an empty database", "plain", [], false),
        ("directory --jobs 2", "directory", ["--jobs", "2"], false),
        ("custom --clean over a restored copy", "custom", ["--clean", "--yes"], false),
    ]

    @Test(arguments: modes)
    func everythingArrives(label: String, format: String, args: [String], creates: Bool) throws {
        let dir = TestServer.tempDir("rich")
        let backup = try TestServer.pgkeep(["backup", "-d", Self.source, "--dir", dir, "--format", format])
        try #require(backup.status == 0, "\(backup.stderr)")
        let file = try #require(KillPointTests.backups(dir).first).path
        let target = TestServer.uniqueName("richcopy")
        defer { TestServer.dropDatabase(target) }
        if !creates { try TestServer.createDatabase(target) }
        if args.contains("--clean") {
            #expect(try TestServer.pgkeep(["restore", file, "-d", target]).status == 0)
            _ = try TestServer.psql(target, "DELETE FROM app.t9; DROP VIEW app.big")
        }
        let run = try TestServer.pgkeep(["restore", file, "-d", target] + args)
        #expect(run.status == 0, "\(label): \(run.stderr)")
        #expect(try Self.fingerprint(target) == Self.fingerprint(Self.source), "\(label): something differs")
        if creates {
            #expect(
                try FidelityTests.properties(target) == FidelityTests.properties(Self.source), "\(label): the database")
        }
    }

    @Test func schemaOnlyThenDataOnlyAndOneTable() throws {
        let dir = TestServer.tempDir("rich")
        #expect(try TestServer.pgkeep(["backup", "-d", Self.source, "--dir", dir]).status == 0)
        let file = try #require(KillPointTests.backups(dir).first).path
        let target = TestServer.uniqueName("richparts")
        defer { TestServer.dropDatabase(target) }
        try TestServer.createDatabase(target)
        #expect(try TestServer.pgkeep(["restore", file, "-d", target, "--schema-only"]).status == 0)
        #expect(try TestServer.schema(target) == TestServer.schema(Self.source), "the schema, whole")
        let data = try TestServer.pgkeep(["restore", file, "-d", target, "--data-only"])
        #expect(data.status == 0, "\(data.stderr)")
        // As with pg_restore: --schema-only refreshes the materialized view while the tables are
        // empty, and --data-only does not refresh it again; the user does, as after the stock tools.
        _ = try TestServer.psql(target, "REFRESH MATERIALIZED VIEW app.mood_counts")
        let (got, want) = (try Self.fingerprint(target), try Self.fingerprint(Self.source))
        let differs = Set(got.split(separator: "\n")).symmetricDifference(Set(want.split(separator: "\n")))
        #expect(differs.isEmpty, "after --schema-only and --data-only: \(differs.sorted())")
        let one = TestServer.uniqueName("richtable")
        defer { TestServer.dropDatabase(one) }
        try TestServer.createDatabase(one)
        let table = try TestServer.pgkeep(["restore", file, "-d", one, "--table", "app.t5", "--table", "app.t6"])
        #expect(table.status == 0, "\(table.stderr)")
        let comments = try TestServer.psql(
            one,
            "SELECT obj_description('app.t5_v'::regclass, 'pg_class') || '/' || obj_description((SELECT oid FROM pg_constraint WHERE conname = 't6_pkey'), 'pg_constraint')"
        )
        #expect(comments == "index comment/constraint comment")
        #expect(try TestServer.psql(one, "SELECT count(*) FROM app.t5") == "15")
    }

    /// Inside a docker compose service on the real engine, an archive and a SQL script, the
    /// script streamed into the container's psql in pgkeep's transaction; and `--schema app` into
    /// a database that has the schema and the publication.
    @Test(arguments: ["custom", "plain", "--schema"])
    func composeAndSchemaRestoresArriveWhole(mode: String) throws {
        let dir = TestServer.tempDir("richdc")
        let format = mode == "plain" ? "plain" : "custom"
        #expect(try TestServer.pgkeep(["backup", "-d", Self.source, "--dir", dir, "--format", format]).status == 0)
        let file = try #require(KillPointTests.backups(dir).first).path
        let target = TestServer.uniqueName("richdc")
        let run: TestServer.Run
        var project: ComposeProject?
        defer { TestServer.dropDatabase(target) }
        if mode == "--schema" {
            try TestServer.createDatabase(target)
            // As with pg_restore --schema: the objects in the schema, not the schema itself nor the
            // publication its tables join (both outside it); stock pg_restore -n fails without them too.
            _ = try TestServer.psql(target, "CREATE SCHEMA app; CREATE PUBLICATION pub_rich")
            run = try TestServer.pgkeep(["restore", file, "-d", target, "--schema", "app"])
        } else {
            guard RealDocker.enabled else { return }
            let p = try RealDocker.project()
            project = p
            _ = try p.psql("db", "postgres", "CREATE DATABASE \(target) TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'")
            run = try TestServer.pgkeep(
                ["restore", file] + p.options("db") + ["-d", target], env: RealDocker.pgkeepEnv)
            // This run's: the other cases of this test run beside it in the same service.
            let left = try p.leftovers("db", of: run.pid).filter {
                !$0.hasPrefix(".pgkeep-") || $0.hasPrefix(".pgkeep-\(run.pid)-")
            }
            #expect(left.isEmpty, "\(left)")
        }
        #expect(run.status == 0, "\(mode): \(run.stderr)")
        let tables = { (db: String, project: ComposeProject?) in
            try Self.fingerprint(db, in: project).split(separator: "\n").filter { $0.hasPrefix("app.") }
                .joined(separator: "\n")
        }
        #expect(try tables(target, project) == tables(Self.source, nil), "\(mode): every table's rows and content")
        if mode != "--schema" {
            #expect(try Self.fingerprint(target, in: project) == Self.fingerprint(Self.source), "\(mode): everything")
        }
        project?.dropDatabase("db", target)
    }
}
