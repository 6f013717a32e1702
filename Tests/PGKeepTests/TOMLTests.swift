import Foundation
import Testing

@testable import PGKeep

/// The config file's TOML: what it reads, and every fault with its line and column.
@Suite struct TOMLTests {
    @Test func readsTheConfigsValues() throws {
        let t = try TOMLTable(
            parsing: """
                # a comment
                top = 1
                [backup]  # a table
                dir = "/var/backups/pgkeep"   # a comment after a value
                label = 'C:\\literal'
                escaped = "tab\\there \\u00e9 \\"quoted\\""
                jobs = 1_000
                ratio = 1.5
                quiet = true
                databases = [
                  "shop",  # the first
                  "crm",
                ]
                empty = []
                """)
        #expect(t.keys == ["top", "backup"])
        let b = try #require(t["backup"]?.table)
        #expect(b["dir"]?.string == "/var/backups/pgkeep")
        #expect(b["label"]?.string == "C:\\literal")
        #expect(b["escaped"]?.string == "tab\there é \"quoted\"")
        #expect(b["jobs"]?.int == 1000 && b["ratio"]?.type == "float" && b["quiet"]?.bool == true)
        #expect(b["databases"]?.array?.compactMap(\.string) == ["shop", "crm"])
        #expect(b["empty"]?.array == [])
    }

    @Test(arguments: [
        ("[backup\n", 1, 8, "not closed"),
        ("[:x]\n", 1, 2, "a key is"),
        ("[a.b]\n", 1, 6, "nested tables"),
        ("[[a.b]]\n", 1, 4, "nested arrays of tables"),
        ("[[a]]\n[a.b]\n[a.b]\n", 3, 6, "defined twice"),
        ("[a]\n[[a]]\n", 2, 6, "defined twice"),
        ("a = 1\na = 2\n", 2, 6, "defined twice"),
        ("[t]\nx = {a = 1}\n", 2, 5, "inline tables"),
        ("x = \"\"\"\nlong\n\"\"\"\n", 1, 5, "multi-line"),
        ("x = [\"a\", }\"b\"]\n", 1, 11, "expected a value"),
        ("x = \"open\n", 1, 10, "not closed"),
        ("x = 1 2\n", 1, 7, "unexpected"),
        ("x = 1__0\n", 1, 9, "underscores"),
        ("x = \"\\q\"\n", 1, 8, "not an escape"),
        ("x = 2026-04-02\n", 1, 15, "not a number"),
        ("é = 1\n", 1, 1, "a key is"),
    ])
    func faultsNameTheirLineAndColumn(text: String, line: Int, column: Int, says: String) {
        do {
            _ = try TOMLTable(parsing: text)
            Issue.record("accepted: \(text)")
        } catch let e as TOMLError {
            #expect(e.line == line && e.column == column, "\(text): \(e.line):\(e.column) \(e.message)")
            #expect(e.message.contains(says), "\(e.message)")
        } catch {
            Issue.record("\(error)")
        }
    }

    /// `[[remote]]` elements, each with its own `[remote.retention]`.
    @Test func arraysOfTablesAndTheirSubTables() throws {
        let t = try TOMLTable(
            parsing: """
                [[remote]]
                target = "s3:a"
                [remote.retention]
                keep_daily = 3
                [[remote]]
                name = "b"
                target = "s3:b"
                [backup]
                dir = "/x"
                """)
        let remotes = try #require(t["remote"]?.array)
        #expect(remotes.count == 2)
        #expect(remotes[0].table?["target"]?.string == "s3:a")
        #expect(remotes[0].table?["retention"]?.table?["keep_daily"]?.int == 3)
        #expect(remotes[1].table?["name"]?.string == "b" && remotes[1].table?["retention"] == nil)
        #expect(t["backup"]?.table?["dir"]?.string == "/x")
    }
}
