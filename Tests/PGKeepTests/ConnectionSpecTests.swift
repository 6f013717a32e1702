import Foundation
import Testing

@testable import PGKeep

@Suite struct ConnectionSpecTests {
    @Test func uriIsParsedByLibpqAndThePasswordKeptApart() throws {
        let spec = try ConnectionSpec.parse(
            "postgresql://alice:p%40ss:w0rd@db.example.com:6543/shop?sslmode=require", source: "--dbname")
        #expect(spec.password == "p@ss:w0rd")
        #expect(
            spec.parameters == [
                "user": "alice", "host": "db.example.com", "port": "6543", "dbname": "shop", "sslmode": "require",
            ])
        #expect(!spec.conninfo().contains("w0rd"))
        #expect(spec.displayURI() == "postgresql://alice:****@db.example.com:6543/shop?sslmode=require")
    }

    @Test func conninfoStringsAndBareNames() throws {
        let spec = try ConnectionSpec.parse(
            "host=/var/run/postgresql dbname='my db' password=hunter2 user=bob", source: "--dbname")
        #expect(spec.password == "hunter2")
        #expect(spec.database == "my db")
        // Besides the bounds every child gets (BoundsTests), exactly these keys.
        let info = spec.conninfo()
        #expect(info.contains("dbname='my db' host='/var/run/postgresql' keepalives="), "\(info)")
        #expect(info.hasSuffix(" user='bob'") && !info.contains("hunter2"), "\(info)")
        #expect(try ConnectionSpec.parse("plainname", source: "x").parameters == ["dbname": "plainname"])
    }

    @Test func conninfoQuotesAwkwardValues() {
        let spec = ConnectionSpec(parameters: ["dbname": "it's \\odd"])
        #expect(spec.conninfo().contains(" dbname='it\\'s \\\\odd' "))
    }

    @Test func flagsOverrideTheURI() throws {
        let spec = try ConnectionSpec.resolve(
            dbname: "postgresql://a@h1:1/db", host: "h2", port: "2", username: "b", environment: [:])
        #expect(spec.parameters == ["host": "h2", "port": "2", "user": "b", "dbname": "db"])
    }

    @Test func environmentURIsOnlyWhenNothingElseNamesAServer() throws {
        let env = ["DATABASE_URL": "postgresql://u:pw@dbhost/app", "POSTGRESQL_URI": "postgresql://v@other/x"]
        #expect(
            try ConnectionSpec.resolve(dbname: nil, host: nil, port: nil, username: nil, environment: env).host
                == "other")
        #expect(
            try ConnectionSpec.resolve(
                dbname: nil, host: nil, port: nil, username: nil,
                environment: ["DATABASE_URL": "postgresql://u:pw@dbhost/app"]
            ).password == "pw")
        #expect(
            try ConnectionSpec.resolve(
                dbname: nil, host: nil, port: nil, username: nil,
                environment: env.merging(["PGHOST": "x"]) { $1 }
            ).parameters.isEmpty)
        #expect(
            try ConnectionSpec.resolve(dbname: nil, host: "h", port: nil, username: nil, environment: env).parameters
                == ["host": "h"])
        // A bare name picks the database on the environment's server.
        let named = try ConnectionSpec.resolve(dbname: "d", host: nil, port: nil, username: nil, environment: env)
        #expect(named.parameters == ["user": "v", "host": "other", "dbname": "d"])
        #expect(
            try ConnectionSpec.resolve(dbname: "d", host: "h", port: nil, username: nil, environment: env).parameters
                == ["host": "h", "dbname": "d"])
        #expect(
            try ConnectionSpec.resolve(dbname: "d", host: nil, port: nil, username: nil, environment: [:]).parameters
                == ["dbname": "d"])
    }

    @Test func invalidStringsFailWithoutEchoingThePassword() {
        do {
            _ = try ConnectionSpec.parse("postgresql://u:topsecret@host/db?nosuchoption=1", source: "--dbname")
            Issue.record("expected an error")
        } catch let error as PGKeepError {
            #expect(error.exitCode == ExitCodes.usage)
            #expect(!error.description.contains("topsecret"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func sslpasswordIsRefused() {
        #expect(throws: PGKeepError.self) { try ConnectionSpec.parse("host=h sslpassword=x", source: "--dbname") }
    }

    @Test func freeTextIsMasked() {
        #expect(
            ConnectionSpec.maskSecrets(in: "failed: postgresql://u:pa55@h/db") == "failed: postgresql://u:****@h/db")
        #expect(ConnectionSpec.maskSecrets(in: "host=h password='a b' user=u") == "host=h password=**** user=u")
        #expect(ConnectionSpec.maskSecrets(in: "password=abc") == "password=****")
    }

    /// A registered password is masked where a child printed it whole (issue 10: by value; pgkeep's
    /// own text is masked where it holds URIs and conninfo, see RedactionTests).
    @Test func redactionCoversRegisteredSecrets() {
        Redaction.shared.register("registered-secret-42")
        #expect(Redaction.shared.applyToChildOutput("oops registered-secret-42 leaked") == "oops **** leaked")
    }
}
