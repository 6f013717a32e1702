import Foundation
import Testing

@testable import PGKeep

/// `pgkeep restore` against the real server, on Pagila.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct RestoreTests {
    /// A pgkeep backup of Pagila in `format`; returns the manifest path.
    func backup(_ format: String = "custom", _ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation)
        throws -> String
    {
        let dir = TestServer.tempDir("rb")
        let run = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--format", format] + extra)
        #expect(run.status == 0, "\(run.stderr)", sourceLocation: sourceLocation)
        return try #require(try TestServer.manifests(dir).first, sourceLocation: sourceLocation).path
    }

    func restore(_ args: [String]) throws -> TestServer.Run {
        try TestServer.pgkeep(["restore"] + args)
    }

    func expectSameAsPagila(_ db: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try TestServer.schema(db) == TestServer.schema(TestServer.pagila), sourceLocation: sourceLocation)
        #expect(try TestServer.rowCounts(db) == TestServer.rowCounts(TestServer.pagila), sourceLocation: sourceLocation)
    }

    @Test(arguments: [
        ("custom", "gzip"), ("plain", "gzip"), ("directory", "gzip"), ("custom", "zstd"), ("plain", "zstd"),
    ])
    func fullRestoreOfEachPgkeepFormat(format: String, codec: String) throws {
        let manifest = try backup(format, ["--compress", codec])
        let target = TestServer.uniqueName("full_\(format)")
        defer { TestServer.dropDatabase(target) }
        let run = try restore([manifest, "-d", target, "--create"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("manifest"), "the backup is checked against its manifest")
        #expect(run.stderr.contains("public.rental") && run.stderr.contains("16044"), "row counts are printed")
        try expectSameAsPagila(target)
    }

    @Test(arguments: [
        ("dump", "pg_dump -Fc -d pagila -f OUT"), ("tar", "pg_dump -Ft -d pagila -f OUT"),
        ("sql", "pg_dump -Fp -d pagila -f OUT"), ("sql.gz", "pg_dump -Fp -d pagila | gzip > OUT"),
        ("dump.gz", "pg_dump -Fc -Z0 -d pagila | gzip > OUT"), ("d", "pg_dump -Fd -d pagila -f OUT"),
        ("sql.zst", "pg_dump -Fp -d pagila | zstd -q > OUT"), ("dump.zst", "pg_dump -Fc -Z0 -d pagila | zstd -q > OUT"),
    ])
    func stockDumpsRestore(ext: String, make: String) throws {
        let out = TestServer.tempDir("stock") + "/pagila." + ext
        try TestServer.shell(make.replacingOccurrences(of: "OUT", with: out))
        let target = TestServer.uniqueName("stock")
        defer { TestServer.dropDatabase(target) }
        let run = try restore([out, "-d", target, "--create"])
        #expect(run.status == 0, "\(ext): \(run.stderr)")
        try expectSameAsPagila(target)
    }

    @Test(arguments: [["--jobs", "2"]])
    func parallelRestores(args: [String]) throws {
        for (format, codec) in [("custom", "gzip"), ("directory", "gzip"), ("custom", "zstd")] {
            let manifest = try backup(format, ["--compress", codec])
            let target = TestServer.uniqueName("par")
            defer { TestServer.dropDatabase(target) }
            let run = try restore([manifest, "-d", target, "--create"] + args)
            #expect(run.status == 0, "\(format): \(run.stderr)")
            try expectSameAsPagila(target)
        }
    }

    @Test(arguments: ["gzip", "zstd"])
    func oneTableWithItsIndexesConstraintsAndTriggers(codec: String) throws {
        let manifest = try backup("custom", ["--compress", codec])
        let target = TestServer.uniqueName("table")
        defer { TestServer.dropDatabase(target) }
        let run = try restore([manifest, "-d", target, "--create", "--table", "public.actor"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            try TestServer.psql(target, "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'")
                == "actor")
        #expect(try TestServer.psql(target, "SELECT count(*) FROM actor") == "200")
        #expect(
            try TestServer.psql(
                target,
                "SELECT count(*) FROM pg_indexes WHERE tablename = 'actor' AND indexname IN ('actor_pkey', "
                    + "'idx_actor_last_name')"
            ) == "2")
        #expect(
            try TestServer.psql(
                target, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'actor'::regclass AND NOT tgisinternal") == "1"
        )
        #expect(
            try TestServer.psql(
                target, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'actor'::regclass AND contype = 'p'")
                == "1")
        // The sequence came along, so inserting works.
        _ = try TestServer.psql(target, "INSERT INTO actor (first_name, last_name) VALUES ('A', 'B')")
    }

    @Test func schemaOnlyThenDataOnly() throws {
        let manifest = try backup()
        let target = TestServer.uniqueName("parts")
        defer { TestServer.dropDatabase(target) }
        let schema = try restore([manifest, "-d", target, "--create", "--schema-only"])
        #expect(schema.status == 0, "\(schema.stderr)")
        #expect(try TestServer.rowCounts(target).values.allSatisfy { $0 == 0 })
        #expect(try TestServer.schema(target) == TestServer.schema(TestServer.pagila))
        let data = try restore([manifest, "-d", target, "--data-only"])
        #expect(data.status == 0, "\(data.stderr)")
        #expect(try TestServer.rowCounts(target) == TestServer.rowCounts(TestServer.pagila))
    }

    @Test func verifyComparesRowCountsFromTheBackupSnapshot() throws {
        let manifest = try backup("custom", ["--row-counts"])
        let m = try Manifest.load(path: manifest)
        #expect(m.rowCounts?["public.rental"] == 16044)
        let good = TestServer.uniqueName("verify_ok")
        defer { TestServer.dropDatabase(good) }
        let ok = try restore([manifest, "-d", good, "--create", "--verify"])
        #expect(ok.status == 0, "\(ok.stderr)")

        // A target that loses rows while the data goes in: an event trigger puts a row-dropping
        // trigger on a partition of payment (nothing references it) as soon as the restore creates it.
        let bad = TestServer.uniqueName("verify_bad")
        try TestServer.createDatabase(bad)
        defer { TestServer.dropDatabase(bad) }
        _ = try TestServer.psql(
            bad,
            """
            CREATE SCHEMA sabotage;
            CREATE FUNCTION sabotage.lose_one() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.payment_id % 100 = 7 THEN RETURN NULL; END IF; RETURN NEW; END $$;
            CREATE FUNCTION sabotage.arm() RETURNS event_trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF to_regclass('public.payment_p2022_01') IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'lose_one') THEN
                CREATE TRIGGER lose_one BEFORE INSERT ON public.payment_p2022_01
                  FOR EACH ROW EXECUTE FUNCTION sabotage.lose_one();
              END IF;
            END $$;
            CREATE EVENT TRIGGER arm ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION sabotage.arm();
            """)
        let run = try restore([manifest, "-d", bad, "--verify"])
        #expect(run.status == ExitCodes.failure, "\(run.stderr)")
        #expect(run.stderr.contains("row count of public.payment_p2022_01 is"), "\(run.stderr)")
        #expect(run.stderr.contains("the backup recorded 723"), "\(run.stderr)")
    }

    @Test(arguments: ["flipped", "truncated", "empty"], ["gzip", "zstd"])
    func damagedBackupsAreRefusedAndTheTargetIsUntouched(damage: String, codec: String) throws {
        let manifest = try backup("custom", ["--compress", codec])
        let data = try Manifest.load(path: manifest).file
        let path = (manifest as NSString).deletingLastPathComponent + "/" + data
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        switch damage {
        case "flipped": bytes[bytes.count / 3] ^= 0x40
        case "truncated": bytes = bytes.prefix(bytes.count / 2)
        default: bytes = Data()
        }
        // With the manifest (sha256) and without it (a copy elsewhere: a full read).
        let copy = TestServer.tempDir("damaged") + "/copy.dump"
        try bytes.write(to: URL(fileURLWithPath: path))
        try bytes.write(to: URL(fileURLWithPath: copy))
        let target = TestServer.uniqueName("damage")
        try TestServer.createDatabase(target)
        defer { TestServer.dropDatabase(target) }
        _ = try TestServer.psql(target, "CREATE TABLE keep_me AS SELECT 42 AS answer")
        let before = try TestServer.schema(target)
        for input in [path, copy] {
            let run = try restore([input, "-d", target, "--clean", "--yes"])
            #expect(run.status != 0, "\(damage) \(input)")
            #expect(run.stderr.contains("damaged") || run.stderr.contains("empty"), "\(run.stderr)")
            #expect(run.stderr.contains("not touched"), "\(run.stderr)")
        }
        #expect(try TestServer.schema(target) == before)
        #expect(try TestServer.psql(target, "SELECT answer FROM keep_me") == "42")
    }

    @Test func aRestoreThatFailsMidwayLeavesTheTargetAsItWas() throws {
        // A database owned in part by a role that the target server will not have.
        let role = TestServer.uniqueName("gone")
        let source = TestServer.uniqueName("src")
        try TestServer.createDatabase(source)
        defer { TestServer.dropDatabase(source) }
        _ = try TestServer.psql("postgres", "CREATE ROLE \(role)")
        _ = try TestServer.psql(
            source,
            "CREATE TABLE a AS SELECT g FROM generate_series(1, 1000) g; CREATE TABLE b (x int); ALTER TABLE b OWNER "
                + "TO \(role)"
        )
        let dir = TestServer.tempDir("mid")
        #expect(try TestServer.pgkeep(["backup", "-d", source, "--dir", dir]).status == 0)
        _ = try TestServer.psql(source, "DROP TABLE b")
        _ = try TestServer.psql("postgres", "DROP ROLE \(role)")
        let manifest = try #require(try TestServer.manifests(dir).first).path

        let target = TestServer.uniqueName("mid_target")
        try TestServer.createDatabase(target)
        defer { TestServer.dropDatabase(target) }
        let before = try TestServer.schema(target)
        let run = try restore([manifest, "-d", target])
        #expect(run.status == ExitCodes.failure, "\(run.stderr)")
        #expect(run.stderr.contains("after 1 error"), "\(run.stderr)")
        #expect(run.stderr.contains("role"), "\(run.stderr)")
        #expect(run.stderr.contains("left as it was"), "\(run.stderr)")
        #expect(try TestServer.schema(target) == before)
        // --create on a failure removes the database it created.
        let fresh = TestServer.uniqueName("mid_fresh")
        #expect(try restore([manifest, "-d", fresh, "--create"]).status == ExitCodes.failure)
        #expect(try TestServer.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(fresh)'") == "0")
    }

    @Test func targetRules() throws {
        let manifest = try backup()
        let target = TestServer.uniqueName("rules")
        defer { TestServer.dropDatabase(target) }
        #expect(try restore([manifest, "-d", target, "--create"]).status == 0)
        let before = try TestServer.schema(target)

        let again = try restore([manifest, "-d", target])
        #expect(again.status == ExitCodes.usage)
        #expect(again.stderr.contains("add --clean"), "\(again.stderr)")
        let noYes = try restore([manifest, "-d", target, "--clean"])
        #expect(noYes.status == ExitCodes.usage)
        #expect(noYes.stderr.contains("add --yes"), "\(noYes.stderr)")
        #expect(try TestServer.schema(target) == before)

        _ = try TestServer.psql(target, "DELETE FROM payment; DELETE FROM rental")
        let clean = try restore([manifest, "-d", target, "--clean", "--yes"])
        #expect(clean.status == 0, "\(clean.stderr)")
        try expectSameAsPagila(target)

        let missing = try restore([manifest, "-d", TestServer.uniqueName("nope")])
        #expect(missing.status == ExitCodes.preflight)
        #expect(missing.stderr.contains("add --create"))
        let template = try restore([manifest, "-d", "template1"])
        #expect(template.status == ExitCodes.usage)
        #expect(template.stderr.contains("template"))
    }

    @Test func plainBackupsRefusePartialRestores() throws {
        let manifest = try backup("plain")
        let run = try restore([manifest, "-d", TestServer.uniqueName("p"), "--create", "--table", "actor"])
        #expect(run.status == ExitCodes.usage)
        #expect(run.stderr.contains("cannot be restored in part"), "\(run.stderr)")
    }

    @Test func latestPicksTheNewestBackup() throws {
        let dir = TestServer.tempDir("latest")
        #expect(try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"]).status == 0)
        #expect(try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir]).status == 0)
        let target = TestServer.uniqueName("latest")
        defer { TestServer.dropDatabase(target) }
        let run = try restore(["--latest", "--database", TestServer.pagila, "--dir", dir, "-d", target, "--create"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try TestServer.psql(target, "SELECT count(*) FROM rental") == "16044")
    }
}
