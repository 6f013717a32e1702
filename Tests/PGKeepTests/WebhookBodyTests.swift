import Foundation
import Testing

@testable import PGKeep

/// A webhook's body: one line, sorted keys, every key present (null when absent), slashes escaped.
@Suite struct WebhookBodyTests {
    @Test func aSuccessAndAStart() {
        let host = MonitorRequests.host
        let version = PGKeepVersion.string
        let success = MonitorEvent(
            state: .success, command: "backup", database: "a", path: "/d/a.dump", size: 10, durationSeconds: 1.5)
        #expect(
            String(decoding: MonitorRequests.webhookBody(success), as: UTF8.self)
                == #"{"command":"backup","database":"a","duration_seconds":1.5,"error":null,"event":"success","#
                + #""host":"\#(host)","path":"\/d\/a.dump","pgkeep_version":"\#(version)","size":10}"#)
        let start = MonitorEvent(state: .start, command: "backup")
        #expect(
            String(decoding: MonitorRequests.webhookBody(start), as: UTF8.self)
                == #"{"command":"backup","database":null,"duration_seconds":null,"error":null,"event":"start","#
                + #""host":"\#(host)","path":null,"pgkeep_version":"\#(version)","size":null}"#)
    }
}
