import Foundation
import Testing

@testable import PGKeep

/// Restore drills recorded in the manifest with their phases; `status` forecasting a whole
/// restore from them, and `[status] rto` / `drill_max_age` failing it.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .serialized)
struct ForecastTests {
    /// A drilled backup and a newer one, in a fresh directory.
    static func drilled() throws -> (dir: String, drilled: String) {
        let dir = TestServer.tempDir("forecast")
        #expect(try TestServer.pgkeep(["backup", "--dir", dir, "-d", TestServer.pagila, "--fingerprint"]).status == 0)
        let first = dir + "/" + (try #require(TestServer.listing(dir).first { $0.hasSuffix(".dump.gz") }))
        let drill = try TestServer.pgkeep(["verify", first, "--restore-drill"])
        #expect(drill.status == 0, "\(drill.stderr)")
        Thread.sleep(forTimeInterval: 1.1)
        #expect(try TestServer.pgkeep(["backup", "--dir", dir, "-d", TestServer.pagila]).status == 0)
        return (dir, first)
    }

    static func editDrill(_ backup: String, _ change: (inout Manifest.Drill) -> Void) throws {
        var manifest = try Manifest.load(path: backup + ".manifest.json")
        var drill = try #require(manifest.drill)
        change(&drill)
        manifest.drill = drill
        try FileSystem.replace(backup + ".manifest.json", with: try manifest.encoded())
    }

    @Test func aDrillIsRecordedWithItsPhasesAndStatusForecasts() throws {
        let (dir, first) = try Self.drilled()
        let drill = try #require(try Manifest.load(path: first + ".manifest.json").drill)
        #expect(drill.ok && drill.rows ?? 0 > 40000 && drill.seconds > 0, "\(drill)")
        for phase in ["check", "schema", "data", "post-data", "verify"] {
            #expect(drill.phases[phase] != nil, "\(phase) in \(drill.phases)")
        }
        let json = try TestServer.pgkeep(["status", "--dir", dir, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let rows = (try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["databases"]
        let pagila = try #require((rows as? [[String: Any]])?.first { $0["database"] as? String == TestServer.pagila })
        #expect(pagila["forecast_seconds"] != nil && pagila["last_drill"] as? String == drill.at, "\(pagila)")
        let prom = try TestServer.pgkeep(["status", "--dir", dir, "--format", "prometheus"])
        #expect(prom.stdout.contains("pgkeep_restore_forecast_seconds{database=\"\(TestServer.pagila)\"}"))
        // A failed drill is recorded too, and not used for the forecast.
        let broken = TestServer.tempDir("forecastbad")
        #expect(
            try TestServer.pgkeep(["backup", "--dir", broken, "-d", TestServer.pagila, "--fingerprint"]).status == 0)
        let bad = broken + "/" + (try #require(TestServer.listing(broken).first { $0.hasSuffix(".dump.gz") }))
        var manifest = try Manifest.load(path: bad + ".manifest.json")
        manifest.fingerprint?.tables["public.actor"]?.checksum = "1"
        try FileSystem.replace(bad + ".manifest.json", with: try manifest.encoded())
        #expect(try TestServer.pgkeep(["verify", bad, "--restore-drill"]).status == 1)
        let failed = try #require(try Manifest.load(path: bad + ".manifest.json").drill)
        #expect(!failed.ok && failed.error?.contains("public.actor") == true, "\(failed)")
        let none = try TestServer.pgkeep(["status", "--dir", broken, "--json"])
        #expect(!none.stdout.contains("forecast_seconds"), "\(none.stdout)")
    }

    @Test func theRTOAndTheDrillsAgeFailStatus() throws {
        let (dir, first) = try Self.drilled()
        let config = dir + "/pgkeep.toml"
        try FileSystem.writePrivateFile(config, data: Data("[status]\nrto = \"45m\"\n".utf8))
        #expect(try TestServer.pgkeep(["status", "--dir", dir, "--config", config]).status == 0)
        // The last drill took an hour: the forecast exceeds the rto.
        try Self.editDrill(first) { $0.seconds = 3600 }
        let slow = try TestServer.pgkeep(["status", "--dir", dir, "--config", config])
        #expect(slow.status == 1 && slow.stderr.contains("over the rto of 45m"), "\(slow.stderr)")
        // A quick drill, but ten days ago: the rto cannot be checked.
        try Self.editDrill(first) {
            $0.seconds = 1
            $0.at = BackupName.isoString(Date().addingTimeInterval(-10 * 86400))
        }
        let old = try TestServer.pgkeep(["status", "--dir", dir, "--config", config])
        #expect(old.status == 1 && old.stderr.contains("no passed drill within 7d"), "\(old.stderr)")
        try FileSystem.replace(config, with: Data("[status]\nrto = \"45m\"\ndrill_max_age = \"30d\"\n".utf8))
        #expect(try TestServer.pgkeep(["status", "--dir", dir, "--config", config]).status == 0)
    }
}
