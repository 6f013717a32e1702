import Foundation
import Testing

@testable import PGKeep

/// The pure parts of a fleet: shards, the parallel options, `[[server]]` tables and what a server's
/// narrowed config holds.
@Suite struct FleetLogicTests {
    @Test func shardsCoverEveryPairExactlyOnce() throws {
        let pairs = (0..<3).flatMap { s in (0..<400).map { ("server\(s)", "db_\($0)") } }
        for n in [1, 2, 3, 7] {
            var owners = [Int](repeating: 0, count: pairs.count)
            for i in 0..<n {
                let shard = try Shard(index: i, count: n)
                for (k, pair) in pairs.enumerated() where shard.owns(server: pair.0, database: pair.1) {
                    owners[k] += 1
                }
            }
            #expect(owners.allSatisfy { $0 == 1 }, "n = \(n)")
        }
        // Evenly enough: no shard of 3 gets under a quarter of 1,200 pairs.
        for i in 0..<3 {
            let shard = try Shard(index: i, count: 3)
            let mine = pairs.filter { shard.owns(server: $0.0, database: $0.1) }.count
            #expect(mine > 300 && mine < 500, "shard \(i) has \(mine)")
        }
    }

    /// The hash is FNV-1a over the bytes: fixed across processes and releases (Swift's Hasher is
    /// not), so a pair keeps its shard.
    @Test func theHashIsStable() {
        #expect(Shard.hash("") == 0xcbf2_9ce4_8422_2325)
        #expect(Shard.hash("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(Shard.hash("foobar") == 0x8594_4171_f739_67e8)
    }

    @Test func shardsFromFlagsAndTheEnvironment() throws {
        #expect(try Shard.parse("2/5") == Shard(index: 2, count: 5))
        for bad in ["5/5", "-1/3", "1/0", "1", "a/b", "1/2/3", ""] {
            #expect(throws: PGKeepError.self, "\(bad)") { try Shard.parse(bad) }
        }
        #expect(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "1"]) == nil)
        #expect(
            try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "1", "PGKEEP_SHARDS": "3"]) == Shard(index: 1, count: 3))
        #expect(throws: PGKeepError.self) { try Shard.fromEnvironment(["PGKEEP_SHARDS": "3"]) }
        #expect(throws: PGKeepError.self) {
            try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "3", "PGKEEP_SHARDS": "3"])
        }
    }

    @Test func parallelBackupsShareTheThreads() throws {
        #expect(FleetOptions(parallel: 1).threadsEach(of: 8) == 8)
        #expect(FleetOptions(parallel: 4).threadsEach(of: 8) == 2)
        #expect(FleetOptions(parallel: 4).threadsEach(of: 2) == 1)
        #expect(FleetOptions(parallel: 4, perServer: 2).width == 2)
        #expect(FleetOptions(parallel: 3).width == 3)
        #expect(throws: PGKeepError.self) { try FleetOptions(parallel: 0).validate() }
        #expect(throws: PGKeepError.self) { try FleetOptions(parallel: 2, perServer: 99).validate() }
    }

    static let fleet = """
        [connection]
        user = "backup"
        password_file = "/etc/pgkeep/shared"
        [backup]
        dir = "/backups"
        databases = ["app"]
        parallel = 4
        per_server = 2
        [retention]
        keep_daily = 10
        [schedule]
        min_interval = "6h"
        [[remote]]
        name = "s3"
        target = "s3:bucket/pgkeep"
        [[server]]
        name = "orders"
        host = "orders-db"
        port = 6432
        databases = "all"
        exclude = ["postgres"]
        [[server]]
        name = "billing"
        uri = "postgresql://other@billing-db/billing"
        dir = "/srv/billing"
        password_env = "BILLING_PASSWORD"
        [server.retention]
        keep_monthly = 24
        """

    @Test func serverTablesNarrowTheConfig() throws {
        let config = try PGKeepConfig.parse(Self.fleet, path: "/etc/pgkeep/pgkeep.toml")
        #expect(config.servers.map(\.name) == ["orders", "billing"])
        #expect(config.parallel == 4 && config.perServer == 2 && config.minInterval == 6 * 3600)
        let orders = config.forServer(config.servers[0])
        #expect(orders.host == "orders-db" && orders.port == "6432" && orders.user == "backup")
        #expect(orders.passwordFile == "/etc/pgkeep/shared")
        #expect(orders.databases == .all && orders.exclude == ["postgres"])
        #expect(orders.directory == "/backups/orders" && orders.serverName == "orders" && orders.servers.isEmpty)
        #expect(orders.retention?.daily == 10)
        // Each server's backups go to a folder of its own on the destinations too.
        #expect(orders.destinations.map(\.target) == ["s3:bucket/pgkeep/orders"])
        let billing = config.forServer(config.servers[1])
        #expect(billing.uri == "postgresql://other@billing-db/billing" && billing.host == nil)
        #expect(billing.passwordFile == nil && billing.passwordEnv == "BILLING_PASSWORD")
        #expect(billing.databases == .list(["app"]) && billing.directory == "/srv/billing")
        #expect(billing.retention?.monthly == 24 && billing.retention?.daily == 10)
        // Without --server, commands that work on one directory say which servers there are.
        let settings = Settings(environment: [:], config: config)
        #expect(throws: PGKeepError.self) { try settings.directory(flag: nil) }
        #expect(try Settings(environment: [:], config: billing).directory(flag: nil) == "/srv/billing")
        #expect(try config.server(named: "orders").host == "orders-db")
        #expect(throws: PGKeepError.self) { try config.server(named: "nope") }
    }

    @Test(arguments: [
        ("[server]\nname = \"a\"", "[[server]] tables"),
        ("[[server]]\nhost = \"x\"", "needs name"),
        ("[[server]]\nname = \"a/b\"", "may hold only"),
        ("[[server]]\nname = \".a\"", "may hold only"),
        ("[[server]]\nname = \"a\"\n[[server]]\nname = \"a\"", "two servers are named"),
        ("[[server]]\nname = \"a\"\nhots = \"x\"", "unknown key hots"),
        ("[[server]]\nname = \"a\"\ndatabases = \"some\"", "must be \"all\""),
        ("[[server]]\nname = \"a\"\n[server.retention]\nkeep_dayly = 3", "has no key keep_dayly"),
        ("[backup]\nparallel = 0", "parallel"),
        ("[schedule]\nmin_interval = \"soon\"", "min_interval"),
    ])
    func badServerTablesAreRefused(text: String, message: String) throws {
        do {
            _ = try PGKeepConfig.parse(text, path: "f.toml")
            Issue.record("accepted: \(text)")
        } catch let error as PGKeepError {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }
}
