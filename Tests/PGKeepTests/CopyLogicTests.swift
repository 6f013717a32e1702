import Foundation
import Testing

@testable import PGKeep

/// The parts of copy and compare that need no server: schema normalisation, the sequence values
/// read from pg_restore's script, which databases go where, locale replacement, client choice.
struct CopyLogicTests {
    @Test func schemaEntriesDropCommentsSettingsAndMetaCommands() {
        let script = """
            --
            -- PostgreSQL database dump
            --
            \\restrict AbC123

            SET statement_timeout = 0;
            SELECT pg_catalog.set_config('search_path', '', false);

            --
            -- Name: t; Type: TABLE; Schema: public; Owner: postgres
            --

            CREATE TABLE public.t (
                id integer
            );

            --
            -- Name: v; Type: MATERIALIZED VIEW DATA; Schema: public; Owner: postgres
            --

            REFRESH MATERIALIZED VIEW public.v;
            \\unrestrict AbC123
            """
        #expect(SchemaText.entries(script) == ["CREATE TABLE public.t (\n    id integer\n);"])
    }

    @Test func schemaCompareIsAMultisetAndNamesWhatDiffers() {
        let a = "-- Name: a; Type: X\nCREATE TABLE a ();\n-- Name: b; Type: X\nCREATE TABLE b ();\n"
        let b = "-- Name: b; Type: X\nCREATE TABLE b ();\n-- Name: a; Type: X\nCREATE TABLE a ();\n"
        #expect(SchemaText.compare(source: a, target: b).matches, "order does not matter")
        let c = SchemaText.compare(source: a, target: "-- Name: a; Type: X\nCREATE TABLE a ();\n")
        #expect(c.onlyInSource == ["CREATE TABLE b ();"] && c.onlyInTarget.isEmpty)
    }

    @Test func viewsCompareWithoutQualifiersOnlyAcrossVersions() {
        let v15 = "-- Name: v; Type: VIEW\nCREATE VIEW public.v AS\n SELECT m.at, 'x.y'::text AS s\n   FROM public.m;\n"
        let v16 = "-- Name: v; Type: VIEW\nCREATE VIEW public.v AS\n SELECT at, 'x.y'::text AS s\n   FROM public.m;\n"
        #expect(!SchemaText.compare(source: v15, target: v16).matches)
        #expect(SchemaText.compare(source: v15, target: v16, acrossVersions: true).matches)
        #expect(SchemaText.unqualified("SELECT \"A b\".c, 'k.l' FROM s.t") == "SELECT c, 'k.l' FROM t")
        // A different column is still a difference.
        let other = v16.replacingOccurrences(of: "SELECT at", with: "SELECT other")
        #expect(!SchemaText.compare(source: v15, target: other, acrossVersions: true).matches)
    }

    @Test func sequenceValuesAsPgSequencesShowsThem() {
        let script = """
            SELECT pg_catalog.setval('public.actor_actor_id_seq', 200, true);
            SELECT pg_catalog.setval('public."Odd ''seq"', 1, false);
            SELECT pg_catalog.setval('app.big', -9223372036854775808, true);
            """
        let values = CopyCatalog.sequenceValues(fromScript: script)
        #expect(values["public.actor_actor_id_seq"] == .some("200"))
        #expect(values["public.\"Odd 'seq\""] == .some(nil), "not called: NULL, as pg_sequences shows it")
        #expect(values["app.big"] == .some("-9223372036854775808"))
    }

    @Test func whichDatabasesGoWhere() throws {
        let from = ConnectionSpec(parameters: ["host": "old", "dbname": "shop"])
        let bare = ConnectionSpec(parameters: ["host": "new"])
        let named = ConnectionSpec(parameters: ["host": "new", "dbname": "shop_v2"])
        #expect(
            try Settings.copyPairs(from: from, to: bare, databases: [], all: nil) == [
                .init(source: "shop", target: "shop")
            ])
        #expect(
            try Settings.copyPairs(from: from, to: named, databases: [], all: nil) == [
                .init(source: "shop", target: "shop_v2")
            ])
        #expect(
            try Settings.copyPairs(from: from, to: bare, databases: ["a", "b"], all: nil)
                == [.init(source: "a", target: "a"), .init(source: "b", target: "b")])
        #expect(throws: PGKeepError.self) {
            try Settings.copyPairs(from: from, to: named, databases: ["a", "b"], all: nil)
        }
        #expect(
            try Settings.copyPairs(from: from, to: bare, databases: [], all: ["postgres", "x"])
                == [.init(source: "x", target: "x")], "--all leaves the maintenance database out")
        #expect(throws: PGKeepError.self) {
            try Settings.copyPairs(from: ConnectionSpec(parameters: ["host": "old"]), to: bare, databases: [], all: nil)
        }
    }

    @Test func localeReplacesEveryLocaleClause() {
        let create =
            "CREATE DATABASE x WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LC_COLLATE = 'de_DE.UTF-8' LC_CTYPE = 'de_DE.UTF-8';"
        #expect(
            CopyJob.replacingLocale(create, with: "C.UTF-8")
                == "CREATE DATABASE x WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C.UTF-8';"
        )
        #expect(CopyJob.isLocaleProblem("query failed: ERROR:  invalid locale name: \"xx\""))
        #expect(!CopyJob.isLocaleProblem("query failed: ERROR:  database \"x\" already exists"))
    }

    @Test func theNewestClientWins() {
        func client(_ v: String, _ dir: String) -> ClientSearch.Client {
            ClientSearch.Client(directory: dir, version: ToolVersion.parse("pg_dump (PostgreSQL) \(v)")!)
        }
        let found = [
            client("15.18", "/usr/bin"), client("16.2", "/opt/16"), client("9.6.24", "/old"), client("16.1", "/x"),
        ]
        #expect(ClientSearch.newest(found)?.directory == "/opt/16")
        #expect(
            ClientSearch.newest([client("15.2", "/a"), client("15.2", "/b")])?.directory == "/a",
            "ties: the first found")
        #expect(ClientSearch.newest([]) == nil)
    }

    /// psql's unaligned answers in a compose session: records, fields, NULLs, newlines in values.
    @Test func psqlAnswersSplitIntoRows() {
        let (f, r, n) = ("\u{1F}", "\u{1E}", "\u{1D}")
        #expect(PsqlSession.rows("").isEmpty)
        #expect(PsqlSession.rows("1" + f + n + f + "x\ny") == [["1", nil, "x\ny"]])
        #expect(PsqlSession.rows("a" + f + "" + r + "b" + f + "2") == [["a", ""], ["b", "2"]])
    }

    @Test func copyTextRowsAreItsNewlines() {
        let text = Array("1\tx\\ny\n2\t\\N\n3".utf8)
        #expect(text.withUnsafeBytes { ComposeCopyEnd.lines(in: $0) } == 2)
        #expect([UInt8]().withUnsafeBytes { ComposeCopyEnd.lines(in: $0) } == 0)
    }

    @Test func ownerChangesReadInOneForm() {
        #expect(SchemaText.ownerForm("ALTER SEQUENCE public.s OWNER TO app;") == "ALTER TABLE public.s OWNER TO app;")
        #expect(SchemaText.ownerForm("ALTER MATERIALIZED VIEW m OWNER TO a;") == "ALTER TABLE m OWNER TO a;")
        #expect(SchemaText.ownerForm("ALTER FUNCTION f() OWNER TO a;") == "ALTER FUNCTION f() OWNER TO a;")
        #expect(SchemaText.ownerForm("ALTER SEQUENCE s RESTART;") == "ALTER SEQUENCE s RESTART;")
    }

    /// Debian's /usr/bin/pg_dump (a relative symlink to postgresql-common's perl pg_wrapper) is
    /// passed over; a directory reached twice through symlinks is probed once.
    @Test func theVersionWrapperIsPassedOver() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pgkeep-cs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        for dir in ["usr/bin", "usr/share/postgresql-common", "usr/lib/postgresql/15/bin"] {
            try fm.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
        }
        for file in ["usr/share/postgresql-common/pg_wrapper", "usr/lib/postgresql/15/bin/pg_dump"] {
            fm.createFile(
                atPath: root + "/" + file, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        }
        try fm.createSymbolicLink(
            atPath: root + "/usr/bin/pg_dump", withDestinationPath: "../share/postgresql-common/pg_wrapper")
        try fm.createSymbolicLink(atPath: root + "/bin", withDestinationPath: "usr/bin")
        try fm.createSymbolicLink(atPath: root + "/lib15", withDestinationPath: "usr/lib/postgresql/15/bin")
        let search = ClientSearch(
            searchPath: [root + "/bin", root + "/usr/bin", root + "/lib15"],
            patterns: [root + "/usr/lib/postgresql/*/bin"])
        #expect(search.candidateDirectories() == [root + "/lib15"])
    }
}
