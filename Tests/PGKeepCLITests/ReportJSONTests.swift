import Foundation
import Testing

@testable import PGKeep
@testable import PGKeepCLI

/// The --json outputs, text for text: these are what the reports printed when they were built
/// from dictionaries through JSONSerialization (same keys, nulls, number forms and key order).
@Suite struct ReportJSONTests {
    func text<T: Encodable>(_ value: T) -> String {
        String(decoding: JSONOutput.report(value) ?? Data(), as: UTF8.self)
    }

    @Test func restore() {
        let json = RestoreReport.JSON(
            target: "r", backup: "/b/x.dump.gz", kind: "custom (gzip)", checked: "sha256 matches the manifest",
            durationSeconds: (1.23456 * 1000).rounded() / 1000, rowCounts: ["public.b": 0, "public.a": 3],
            verify: .init(
                ok: false,
                mismatches: [
                    .init(table: "public.a", expected: 4, found: JSONNullable(3)),
                    .init(table: "public.gone", expected: 2, found: JSONNullable(nil)),
                ]))
        #expect(
            text(json) == """
                {
                  "backup" : "/b/x.dump.gz",
                  "checked" : "sha256 matches the manifest",
                  "duration_seconds" : 1.235,
                  "kind" : "custom (gzip)",
                  "row_counts" : {
                    "public.a" : 3,
                    "public.b" : 0
                  },
                  "target" : "r",
                  "verify" : {
                    "mismatches" : [
                      {
                        "expected" : 4,
                        "found" : 3,
                        "table" : "public.a"
                      },
                      {
                        "expected" : 2,
                        "found" : null,
                        "table" : "public.gone"
                      }
                    ],
                    "ok" : false
                  }
                }
                """)
    }

    @Test func status() {
        let json = StatusReport.JSON(
            databases: [
                .init(
                    database: "a", where: "local", fresh: true, newest: JSONNullable("2026-01-02T03:04:05Z"),
                    path: JSONNullable("/d/a.dump"), ageSeconds: JSONNullable(12), anomalies: []),
                .init(
                    database: "b", where: "s3", fresh: false, newest: JSONNullable(nil), path: JSONNullable(nil),
                    ageSeconds: JSONNullable(nil), anomalies: ["x"]),
            ], ok: false, maxAgeSeconds: 7200)
        #expect(
            text(json) == """
                {
                  "databases" : [
                    {
                      "age_seconds" : 12,
                      "anomalies" : [

                      ],
                      "database" : "a",
                      "fresh" : true,
                      "newest" : "2026-01-02T03:04:05Z",
                      "path" : "/d/a.dump",
                      "where" : "local"
                    },
                    {
                      "age_seconds" : null,
                      "anomalies" : [
                        "x"
                      ],
                      "database" : "b",
                      "fresh" : false,
                      "newest" : null,
                      "path" : null,
                      "where" : "s3"
                    }
                  ],
                  "max_age_seconds" : 7200,
                  "ok" : false
                }
                """)
    }

    @Test func verify() {
        let json = VerifyReport.JSON(
            backups: [
                .init(path: "/d/a", ok: true, checks: ["c1", "c2"]), .init(path: "/d/b", ok: false, error: "bad"),
            ], ok: false)
        #expect(
            text(json) == """
                {
                  "backups" : [
                    {
                      "checks" : [
                        "c1",
                        "c2"
                      ],
                      "ok" : true,
                      "path" : "/d/a"
                    },
                    {
                      "error" : "bad",
                      "ok" : false,
                      "path" : "/d/b"
                    }
                  ],
                  "ok" : false
                }
                """)
    }

    @Test func backup() {
        let json = BackupReporter.JSON(
            backups: [
                .init(
                    path: "/d/a/a.dump.gz", manifest: "/d/a/a.dump.gz.manifest.json", database: "a",
                    time: "2026-01-02T03:04:05Z", format: "custom", size: 1234, sha256: "ab", durationSeconds: 2.5,
                    anomalies: [], shrinkAccepted: false)
            ], failures: [.init(database: "b", error: "no such database")], ok: false)
        #expect(
            text(json) == """
                {
                  "backups" : [
                    {
                      "anomalies" : [

                      ],
                      "database" : "a",
                      "duration_seconds" : 2.5,
                      "format" : "custom",
                      "manifest" : "/d/a/a.dump.gz.manifest.json",
                      "path" : "/d/a/a.dump.gz",
                      "sha256" : "ab",
                      "shrink_accepted" : false,
                      "size" : 1234,
                      "time" : "2026-01-02T03:04:05Z"
                    }
                  ],
                  "failures" : [
                    {
                      "database" : "b",
                      "error" : "no such database"
                    }
                  ],
                  "ok" : false
                }
                """)
    }

    /// A copy without validation writes `"validation" : null`; `globals` is left out unless set.
    @Test func copyRows() throws {
        let copied = CopyReportJSON.Copied(
            source: "a", target: "b", ok: true, tables: 2, rows: 10, bytes: 300, seconds: 1.5,
            phases: ["schema": 0.25, "data": 1], clients: "client tools 15", verified: false,
            validation: JSONNullable(nil))
        let json = CopyReportJSON(globals: nil, results: [.copied(copied)], ok: true)
        #expect(
            text(json) == """
                {
                  "ok" : true,
                  "results" : [
                    {
                      "bytes" : 300,
                      "clients" : "client tools 15",
                      "ok" : true,
                      "phases" : {
                        "data" : 1,
                        "schema" : 0.25
                      },
                      "rows" : 10,
                      "seconds" : 1.5,
                      "source" : "a",
                      "tables" : 2,
                      "target" : "b",
                      "validation" : null,
                      "verified" : false
                    }
                  ]
                }
                """)
        let withGlobals = CopyReportJSON(globals: .init(statements: 3, alreadyExisted: 1), results: [], ok: true)
        let globals = "\"globals\" : {\n    \"already_existed\" : 1,\n    \"statements\" : 3\n  }"
        #expect(text(withGlobals).contains(globals))
    }

    /// A comparison is `Comparison`'s own encoding plus `ok` and `differences`; absent counts,
    /// values and checksums are left out (as the round trip through JSONSerialization left them).
    @Test func comparison() throws {
        let c = Comparison(
            source: "a", target: "b",
            tables: [
                .init(name: "public.t", sourceRows: 2, targetRows: 2, checksumMatch: true),
                .init(name: "public.new", sourceRows: nil, targetRows: 0, checksumMatch: false),
            ],
            sequences: [.init(name: "public.s", source: "5", target: nil)],
            largeObjects: .init(sourceCount: 0, targetCount: 0, checksumMatch: nil), schema: nil)
        // What the report did before: JSONEncoder, read back, two keys added, written again.
        var object = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as? [String: Any])
        object["ok"] = c.matches
        object["differences"] = c.differences
        let before = try JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        #expect(text(CopyReportJSON.Validation(c)) == String(decoding: before, as: UTF8.self))
        #expect(!text(CopyReportJSON.Validation(c)).contains("null"))
    }
}
