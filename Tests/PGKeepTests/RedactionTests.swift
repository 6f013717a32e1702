import Foundation
import Testing

@testable import PGKeep

/// Passwords are masked where they stand as a value, never as a piece of other text.
@Suite struct RedactionTests {
    static let passwords = ["postgres", "a", "p@ss word/é", String(repeating: "Zq9-", count: 50)]

    static func encoded(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s
    }

    @Test(arguments: passwords)
    func byValueNotBySubstring(password: String) {
        let r = Redaction()
        r.register(password)
        let uri = "postgresql://postgres:\(Self.encoded(password))@db.example.com:5432/shop"
        let said = r.apply("pgkeep: cannot connect to \(uri): a backup of database \"postgres\" failed")
        #expect(
            said.hasPrefix("pgkeep: cannot connect to postgresql://postgres:****@db.example.com:5432/shop"), "\(said)")
        #expect(said.contains("a backup of database \"postgres\""), "pgkeep's own words stay: \(said)")
        let conninfo = r.apply(
            "host=db user=app password='\(password.replacingOccurrences(of: "'", with: "\\'"))' dbname=x")
        #expect(conninfo == "host=db user=app password=**** dbname=x", "\(conninfo)")
        // A child's stderr: the password where it stands whole.
        let child = r.applyToChildOutput("FATAL: bad value \(password) here; see postgresql://x\n")
        #expect(!child.contains(" \(password) ") && child.contains("postgresql://x"), "\(child)")
        #expect(r.applyToChildOutput("postgresql") == "postgresql")
    }

    @Test func environmentVariablesWhoseWholeValueIsThePassword() {
        let r = Redaction()
        r.register("postgres")
        #expect(r.isSecretValue("postgres"))
        #expect(r.isSecretValue("postgresql://app:postgres@db/x"))
        #expect(!r.isSecretValue("/usr/lib/postgresql/15/bin:/usr/bin"))
        #expect(!r.isSecretValue("postgres-admin"))
    }

    @Test func maskWholeKeepsWordsThatContainIt() {
        #expect(Redaction.maskWhole("a", in: "a backup: a") == "**** backup: ****")
        #expect(Redaction.maskWhole("a", in: "abc bca") == "abc bca")
        #expect(Redaction.maskWhole("p@ss word/é", in: "x p@ss word/é y") == "x **** y")
        #expect(
            Redaction.maskWhole("@@", in: "a@@b") == "a****b", "a password of punctuation has no word to be part of")
    }
}
