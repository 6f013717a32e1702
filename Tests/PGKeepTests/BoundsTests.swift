import Foundation
import Testing

@testable import PGKeep

/// The pure parts of pgkeep's bounds: what every connection gets (and what the user's own
/// values keep), how the restore script's lock bound is put in, the watchdog's verdicts, the
/// settings' order, and which drill failures are not the backup's.
@Suite struct BoundsTests {
    @Test func everyConnectionGetsKeepalivesAndExplicitTimeouts() {
        let bounds = SessionBounds()
        let child = bounds.apply(to: ["host": "db", "dbname": "shop"], own: false, writes: false)
        #expect(child["keepalives"] == "1" && child["keepalives_idle"] == "30")
        #expect(child["keepalives_interval"] == "10" && child["keepalives_count"] == "3")
        #expect(child["tcp_user_timeout"] == "60000")
        let options = child["options"] ?? ""
        #expect(
            options.contains("-c statement_timeout=0") && options.contains("-c idle_in_transaction_session_timeout=0"))
        #expect(options.contains("-c tcp_keepalives_idle=30"))
        // A child sets its own lock_timeout and search_path (pg_dump, the archive's script).
        #expect(!options.contains("lock_timeout") && !options.contains("search_path"))
        #expect(!options.contains("default_transaction_read_only"))
        let own = bounds.apply(to: [:], own: true, writes: true)["options"] ?? ""
        #expect(own.contains("-c lock_timeout=600000") && own.contains("-c search_path=pg_catalog"))
        #expect(own.contains("-c default_transaction_read_only=off"))
    }

    @Test func theUsersOwnValuesWin() {
        var bounds = SessionBounds()
        bounds.lockTimeout = nil
        let params = bounds.apply(
            to: ["keepalives_idle": "5", "tcp_user_timeout": "1000", "options": "-c statement_timeout=5min"], own: true,
            writes: false)
        #expect(params["keepalives_idle"] == "5" && params["tcp_user_timeout"] == "1000")
        #expect(params["keepalives_interval"] == "10")
        // Later -c wins: the user's options come after pgkeep's.
        let options = params["options"] ?? ""
        #expect(options.hasSuffix("-c statement_timeout=5min"))
        #expect(options.contains("-c lock_timeout=0"))
    }

    @Test func theRestoreScriptsLockLineCarriesTheBound() {
        let script =
            "SET statement_timeout = 0;\nSET lock_timeout = 0;\nSET x = 1;\n"
            + "-- Data for Name: t; Type: TABLE DATA; Schema: public\nCOPY t (a) FROM stdin;\nSET lock_timeout = 0;\n\\.\n"
        for tolerant in [false, true] {
            for size in [1, 3, 7, 1000] {
                var filter = ScriptFilter(tolerantDrops: tolerant, lockTimeout: 2.5)
                var out = Data()
                let bytes = Array(script.utf8)
                var i = 0
                while i < bytes.count {
                    let piece = Array(bytes[i..<min(bytes.count, i + size)])
                    piece.withUnsafeBytes { filter.process($0) { out.append(contentsOf: $0) } }
                    i += size
                }
                filter.finish { out.append(contentsOf: $0) }
                let text = String(decoding: out, as: UTF8.self)
                // The header's line is replaced; the same bytes inside COPY data are data.
                #expect(
                    text
                        == script.replacingOccurrences(
                            of: "\nSET lock_timeout = 0;\nSET x", with: "\nSET lock_timeout = '2500';\nSET x"),
                    "tolerant \(tolerant), chunks of \(size): \(text)")
            }
        }
        // Past the preamble the same line is the script's own (a function body, a string value).
        let body =
            "SET lock_timeout = 0;\n-- Name: f; Type: FUNCTION; Schema: public\nCREATE FUNCTION f() AS $$\n"
            + "SET lock_timeout = 0;\n$$;\n"
        for tolerant in [false, true] {
            var filter = ScriptFilter(tolerantDrops: tolerant, lockTimeout: 1)
            var out = Data()
            Data(body.utf8).withUnsafeBytes { filter.process($0) { out.append(contentsOf: $0) } }
            filter.finish { out.append(contentsOf: $0) }
            #expect(
                String(decoding: out, as: UTF8.self)
                    == body.replacingOccurrences(
                        of: "^SET lock_timeout = 0;", with: "SET lock_timeout = '1000';", options: .regularExpression),
                "tolerant \(tolerant)")
        }
        var plain = ScriptFilter(tolerantDrops: false)
        var out = Data()
        Data(script.utf8).withUnsafeBytes { plain.process($0) { out.append(contentsOf: $0) } }
        plain.finish { out.append(contentsOf: $0) }
        #expect(String(decoding: out, as: UTF8.self) == script)
    }

    @Test func lockWaitsEndWithALockErrorEvenInCleanMode() {
        let wrapped = ScriptFilter.tolerant("DROP TABLE public.t;")
        #expect(wrapped.contains("WHEN lock_not_available THEN RAISE; WHEN OTHERS"))
    }

    @Test func boundsComeFromFlagEnvironmentFileDefault() throws {
        var config = PGKeepConfig(path: "/x.toml")
        config.lockWaitTimeout = 30
        config.stallTimeout = 0
        config.keepalivesIdle = 7
        let settings = Settings(environment: ["PGKEEP_MAX_DURATION": "2h"], config: config)
        let (session, limits) = try settings.bounds(BoundsFlags())
        #expect(session.lockTimeout == 30 && session.keepalivesIdle == 7)
        #expect(limits.maxDuration == 7200 && limits.stallTimeout == nil && limits.stallChosen)
        let flagged = try settings.bounds(BoundsFlags(lockWaitTimeout: "none", maxDuration: "90s", stallTimeout: "1m"))
        #expect(
            flagged.session.lockTimeout == nil && flagged.limits.maxDuration == 90 && flagged.limits.stallTimeout == 60)
        let defaults = try Settings(environment: [:], config: nil).bounds(BoundsFlags())
        #expect(defaults.session.lockTimeout == 600 && defaults.limits.stallTimeout == 300)
        #expect(defaults.limits.maxDuration == nil)
        // The default stall bound is not a choice: unwatched phases (inside compose) go without it.
        #expect(!defaults.limits.stallChosen)
        #expect(throws: PGKeepError.self) { try settings.bounds(BoundsFlags(stallTimeout: "soon")) }
    }

    @Test func drillFailuresOutsideTheBackupAreNamed() {
        let lost = PGKeepError(.backup, "restore failed", stderrTail: "psql: error: connection to server was lost")
        #expect(DrillFailure.outsideTheBackup(lost) != nil)
        #expect(DrillFailure.outsideTheBackup(PGKeepError(.preflight, "cannot connect")) != nil)
        let readOnly = PGKeepError(
            .backup, "x", stderrTail: "ERROR:  cannot execute CREATE TABLE in a read-only transaction")
        #expect(DrillFailure.outsideTheBackup(readOnly) == "the drill server is read-only")
        let broken = PGKeepError(.backup, "restore failed", stderrTail: "ERROR:  invalid input syntax for type integer")
        #expect(DrillFailure.outsideTheBackup(broken) == nil)
    }

    /// Behind a pooler that refuses startup options, none are sent; the client-side bounds stay.
    @Test func serverOptionsCanBeTurnedOff() throws {
        var config = PGKeepConfig(path: "/x.toml")
        config.serverOptions = false
        let (session, _) = try Settings(environment: [:], config: config).bounds(BoundsFlags())
        let params = session.apply(to: ["host": "pooler"], own: true, writes: true)
        #expect(params["options"] == nil && params["keepalives"] == "1" && params["tcp_user_timeout"] == "60000")
    }
}
