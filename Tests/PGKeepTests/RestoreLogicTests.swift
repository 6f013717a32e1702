import Foundation
import Testing

@testable import PGKeep

@Suite struct TableSelectionTests {
    let listing = """
        ;
        ; Archive created at 2026-04-02 02:00:00 UTC
        ;
        5; 2615 2200 SCHEMA - public postgres
        216; 1259 16422 SEQUENCE public actor_actor_id_seq postgres
        217; 1259 16423 TABLE public actor postgres
        222; 1259 16450 TABLE public film_actor postgres
        230; 1255 16400 FUNCTION public last_updated() postgres
        231; 1247 16390 TYPE public mpaa_rating postgres
        3682; 0 16423 TABLE DATA public actor postgres
        3687; 0 16450 TABLE DATA public film_actor postgres
        3721; 0 0 SEQUENCE SET public actor_actor_id_seq postgres
        3399; 2606 16607 CONSTRAINT public actor actor_pkey postgres
        3400; 1259 16635 INDEX public idx_actor_last_name postgres
        3500; 2620 16700 TRIGGER public actor last_updated postgres
        3600; 2606 16800 FK CONSTRAINT public film_actor film_actor_actor_id_fkey postgres
        3601; 0 0 COMMENT public TABLE actor postgres
        """
    let verbose = """
        --
        -- TOC entry 217 (class 1259 OID 16423)
        -- Dependencies: 216 5
        -- Name: actor; Type: TABLE; Schema: public; Owner: postgres
        --
        -- TOC entry 222 (class 1259 OID 16450)
        -- Dependencies: 5
        -- TOC entry 216 (class 1259 OID 16422)
        -- Dependencies: 5
        -- TOC entry 3399 (class 2606 OID 16607)
        -- Dependencies: 217
        -- TOC entry 3400 (class 1259 OID 16635)
        -- Dependencies: 217
        -- TOC entry 3500 (class 2620 OID 16700)
        -- Dependencies: 217 230
        -- TOC entry 3600 (class 2606 OID 16800)
        -- Dependencies: 222 217 3399
        -- TOC entry 3601 (class 0 OID 0)
        -- Dependencies: 217
        """

    func entries() -> [TOCEntry] {
        var e = TableSelection.parseList(listing)
        let deps = TableSelection.parseDependencies(verbose)
        for i in e.indices { e[i].dependencies = deps[e[i].id] ?? [] }
        return e
    }

    @Test func parsesListingLines() {
        let e = TableSelection.parseList(listing)
        #expect(e.count == 14)
        let fk = e.first { $0.id == 3600 }
        #expect(fk?.type == "FK CONSTRAINT")
        #expect(fk?.schema == "public")
        #expect(fk?.tag == "film_actor film_actor_actor_id_fkey")
        #expect(e.first { $0.id == 3682 }?.type == "TABLE DATA")
        #expect(e.first { $0.id == 5 }?.schema == "")
        #expect(e.first { $0.id == 230 }?.tag == "last_updated()")
    }

    @Test func aTableComesWithWhatBelongsToItAndWhatItNeeds() throws {
        let chosen = try TableSelection.select(entries: entries(), tables: ["public.actor"]) { _ in false }
        #expect(Set(chosen.map(\.id)) == [217, 3682, 3399, 3400, 3500, 3601, 216, 3721, 230, 5])
    }

    @Test func whatTheTargetHasIsNotRecreated() throws {
        let chosen = try TableSelection.select(entries: entries(), tables: ["actor"]) { e in
            e.type == "SCHEMA" || e.type == "FUNCTION"
        }
        #expect(!chosen.contains { $0.id == 5 || $0.id == 230 })
        #expect(chosen.contains { $0.id == 216 })
    }

    @Test func foreignKeysNeedBothTables() throws {
        let one = try TableSelection.select(entries: entries(), tables: ["film_actor"]) { _ in true }
        #expect(!one.contains { $0.id == 3600 })
        let both = try TableSelection.select(entries: entries(), tables: ["film_actor", "actor"]) { _ in true }
        #expect(both.contains { $0.id == 3600 })
    }

    @Test func unknownTablesAreAnError() {
        #expect(throws: PGKeepError.self) {
            try TableSelection.select(entries: entries(), tables: ["nope"]) { _ in false }
        }
    }

    @Test func existenceQueriesQuote() {
        let e = TOCEntry(id: 1, type: "SEQUENCE", schema: "My Schema", tag: "s", line: "")
        #expect(
            TableSelection.existsQuery(e, literal: SQL.literal)
                == "SELECT 1 WHERE to_regclass('\"My Schema\".s') IS NOT NULL")
        #expect(SQL.literal("it's") == "'it''s'")
        #expect(SQL.identifier("a\"b") == "\"a\"\"b\"")
    }
}

@Suite struct ScriptFilterTests {
    let script = """
        --
        -- PostgreSQL database dump
        --
        SET client_min_messages = warning;

        ALTER TABLE IF EXISTS ONLY public.p1 DROP CONSTRAINT IF EXISTS p1_pkey;
        DROP TABLE IF EXISTS public.t;
        DROP FUNCTION IF EXISTS public.f(a integer,
            b text);
        --
        -- Name: t; Type: TABLE; Schema: public; Owner: postgres
        --
        DROP TABLE IF EXISTS public.not_a_clean_statement;
        COPY public.t (x) FROM stdin;
        1
        \\.

        """

    func run(chunkSize: Int) -> String {
        var filter = ScriptFilter(tolerantDrops: true)
        return Self.feed(script, through: &filter, chunkSize: chunkSize)
    }

    /// `script` through `filter` in chunks of `chunkSize` bytes; what comes out.
    static func feed(_ script: String, through filter: inout ScriptFilter, chunkSize: Int) -> String {
        var out = Data()
        let bytes = Array(script.utf8)
        var i = 0
        while i < bytes.count {
            let end = min(bytes.count, i + chunkSize)
            bytes[i..<end].withUnsafeBytes { filter.process($0) { out.append(contentsOf: $0) } }
            i = end
        }
        filter.finish { out.append(contentsOf: $0) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test(arguments: [1, 7, 64, 100_000])
    func dropsBecomeTolerantAndTheRestPassesUnchanged(chunkSize: Int) {
        let out = run(chunkSize: chunkSize)
        #expect(
            out.contains(
                "DO $pgkeep_clean$ BEGIN EXECUTE $pgkeep_stmt$ALTER TABLE IF EXISTS ONLY public.p1 DROP CONSTRAINT IF "
                    + "EXISTS p1_pkey;$pgkeep_stmt$; EXCEPTION WHEN lock_not_available THEN RAISE; WHEN OTHERS"
            ))
        #expect(
            out.contains("EXECUTE $pgkeep_stmt$DROP FUNCTION IF EXISTS public.f(a integer,\n    b text);$pgkeep_stmt$"))
        #expect(out.contains("SET client_min_messages = warning;\n"))
        let body = out[out.range(of: "-- Name: t;")!.lowerBound...]
        #expect(
            body == script[script.range(of: "-- Name: t;")!.lowerBound...],
            "after the first entry header nothing changes")
    }
}

@Suite struct RestoreOptionsTests {
    @Test func sqlScriptsRefusePartialsJobsAndClean() {
        let changes: [(inout RestoreOptions) -> Void] = [
            { $0.tables = ["t"] }, { $0.schemaOnly = true }, { $0.jobs = 2 }, { $0.clean = true },
        ]
        for change in changes {
            var o = RestoreOptions()
            change(&o)
            #expect(throws: PGKeepError.self) { try o.validate(for: .compressed(.gzip, archive: false)) }
            #expect(throws: Never.self) { try o.validate(for: .compressed(.gzip, archive: true)) }
        }
    }

    @Test func pgRestoreArguments() {
        var o = RestoreOptions()
        #expect(o.pgRestoreArguments == ["--exit-on-error", "--single-transaction"])
        o.jobs = 4
        o.clean = true
        o.schemas = ["s"]
        #expect(o.pgRestoreArguments == ["--exit-on-error", "--jobs=4", "--clean", "--if-exists", "--schema=s"])
        var d = RestoreOptions()
        d.dataOnly = true
        #expect(d.pgRestoreArguments.contains("--disable-triggers"))
        d.clean = true
        #expect(throws: PGKeepError.self) { try d.validate(for: .custom) }
    }
}

@Suite struct RestoreInputTests {
    func file(_ bytes: [UInt8], _ name: String = "x") -> String {
        let dir = NSTemporaryDirectory() + "pgkeep-in-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    func gzip(_ text: String) throws -> [UInt8] {
        let path = file(Array(text.utf8))
        let (out, _) = try ChildProcess.capture(Command(executable: "/bin/gzip", arguments: ["-c", path]))
        return Array(out)
    }

    @Test func kindComesFromTheContentNotTheName() throws {
        #expect(try RestoreInput.open(file(Array("PGDMP\u{1}\u{e}".utf8), "a.sql")).kind == .custom)
        #expect(try RestoreInput.open(file(try gzip("PGDMPxyz"), "a.sql.gz")).kind == .compressed(.gzip, archive: true))
        #expect(
            try RestoreInput.open(file(try gzip("CREATE TABLE t();"), "a.dump.gz")).kind
                == .compressed(.gzip, archive: false))
        #expect(try RestoreInput.open(file(Array("SET x = 1;".utf8))).kind == .plain)
        var tar = [UInt8](repeating: 0, count: 512)
        tar.replaceSubrange(257..<262, with: Array("ustar".utf8))
        #expect(try RestoreInput.open(file(tar)).kind == .tar)
    }

    @Test func emptyAndMissingFilesAreRefused() {
        #expect(throws: PGKeepError.self) { try RestoreInput.open(file([])) }
        #expect(throws: PGKeepError.self) { try RestoreInput.open("/nonexistent/backup.dump") }
    }
}

/// The transaction is pgkeep's: the archiver's BEGIN/COMMIT around large objects are cut out,
/// and nothing else is.
@Suite struct ScriptTransactionTests {
    static let script = """
        SET statement_timeout = 0;
        --
        -- Name: p(); Type: PROCEDURE; Schema: public; Owner: postgres
        --
        CREATE PROCEDURE public.p() LANGUAGE plpgsql AS $$
        BEGIN
        COMMIT;
        END $$;
        --
        -- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: postgres
        --
        COPY public.t (x) FROM stdin;
        BEGIN;
        COMMIT;
        \\.
        --
        -- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -
        --

        BEGIN;

        SELECT pg_catalog.lo_open('16389', 131072);
        SELECT pg_catalog.lowrite(0, '\\x68656c6c6f');
        SELECT pg_catalog.lo_close(0);

        COMMIT;

        --
        -- PostgreSQL database dump complete
        --

        """

    /// COPY data is skipped to its end line in one search: the rows pass unchanged, and the next
    /// statement is still seen, wherever the chunks cut (inside a row, inside `\.`, at a newline).
    @Test(arguments: [1, 2, 5, 97, 4096, 1 << 20])
    func copyDataIsSkippedToItsEndWhereverChunksCut(chunkSize: Int) {
        let rows = (1...2_000).map { "\($0)\tname \($0)\t\\\\.\t\\.x\n" }.joined()
        let script =
            "--\n-- Data for Name: a; Type: TABLE DATA; Schema: public; Owner: postgres\n--\n"
            + "COPY public.a (id, name, x, y) FROM stdin;\n" + rows + "\\.\n\n"
            + "COPY public.\"B b\" (id) FROM stdin;\n" + rows + "\\.\n"
            + "COPY public.c (id) FROM stdin;\n\\.\n-- PostgreSQL database dump complete\n"
        var filter = ScriptFilter(tolerantDrops: false)
        let out = ScriptFilterTests.feed(script, through: &filter, chunkSize: chunkSize)
        #expect(out == script)
        #expect(filter.copyTables == ["public.a", "public.\"B b\"", "public.c"])
    }

    @Test(arguments: [1, 3, 8, 64, 100_000])
    func onlyTheLargeObjectTransactionIsCutOut(chunkSize: Int) {
        var filter = ScriptFilter(tolerantDrops: false)
        let out = ScriptFilterTests.feed(Self.script, through: &filter, chunkSize: chunkSize)
        let expected = Self.script.replacingOccurrences(of: "\n\nBEGIN;\n\nSELECT", with: "\n\n\nSELECT")
            .replacingOccurrences(of: "lo_close(0);\n\nCOMMIT;\n", with: "lo_close(0);\n\n")
        #expect(out == expected)
        #expect(filter.droppedTransactionLines == 2)
        #expect(filter.copyTables == ["public.t"], "the COPY's data (BEGIN;, COMMIT; as values) passes as data")
    }
}

/// `restore --create` takes the database's definition from the archive, renamed.
@Suite struct DatabaseDefinitionTests {
    static let script = """
        --
        -- Name: "Shop DB"; Type: DATABASE; Schema: -; Owner: app
        --

        CREATE DATABASE "Shop DB" WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C';


        ALTER DATABASE "Shop DB" OWNER TO app;

        \\connect -reuse-previous=on "dbname='Shop DB'"

        SET statement_timeout = 0;
        --
        -- Name: DATABASE "Shop DB"; Type: COMMENT; Schema: -; Owner: app
        --

        COMMENT ON DATABASE "Shop DB" IS 'the DATABASE "Shop DB" of the shop';

        --
        -- Name: "Shop DB"; Type: DATABASE PROPERTIES; Schema: -; Owner: app
        --

        ALTER DATABASE "Shop DB" SET work_mem TO '7MB';

        --
        -- Name: public; Type: SCHEMA; Schema: -; Owner: pg_database_owner
        --

        CREATE SCHEMA public;

        --
        -- Name: DATABASE "Shop DB"; Type: ACL; Schema: -; Owner: app
        --

        REVOKE CONNECT,TEMPORARY ON DATABASE "Shop DB" FROM PUBLIC;
        """

    @Test func readsAndRenamesTheDatabaseEntries() throws {
        let d = try #require(
            DatabaseDefinition.parse(Self.script, renamingTo: "copy", noOwner: false, noPrivileges: false))
        #expect(
            d.create
                == "CREATE DATABASE \"copy\" WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C';"
        )
        #expect(
            d.properties == [
                "ALTER DATABASE \"copy\" OWNER TO app;",
                "COMMENT ON DATABASE \"copy\" IS 'the DATABASE \"Shop DB\" of the shop';",
                "ALTER DATABASE \"copy\" SET work_mem TO '7MB';",
                "REVOKE CONNECT,TEMPORARY ON DATABASE \"copy\" FROM PUBLIC;",
            ])
        let bare = try #require(
            DatabaseDefinition.parse(Self.script, renamingTo: "Shop DB", noOwner: true, noPrivileges: true))
        #expect(bare.properties.count == 2, "no owner, no privileges: \(bare.properties)")
        #expect(
            DatabaseDefinition.parse("CREATE TABLE t (x int);\n", renamingTo: "x", noOwner: false, noPrivileges: false)
                == nil)
    }
}
