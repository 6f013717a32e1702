import Foundation
import Testing

/// Under CI a missing server is a failure, never a silent skip.
@Suite struct TestEnvironmentTests {
    @Test(.enabled(if: TestServer.required, "only under CI, where every server must be there"))
    func ciHasEveryServerTheSuitesNeed() {
        #expect(
            TestServer.available,
            "CI is set but PGKEEP_TEST_PORT is not: run the suite through Scripts/test.sh, which starts PostgreSQL")
        #expect(
            TestServer.s3Available,
            "CI is set but PGKEEP_TEST_MOTO_PORT is not: Scripts/test.sh starts moto's S3 API for the offsite tests")
        #expect(
            RealDocker.available,
            "CI is set but PGKEEP_TEST_DOCKER_HOST is not: Scripts/test.sh starts a Docker Engine for the compose tests"
        )
        #expect(
            FileManager.default.isExecutableFile(atPath: TestServer.binary), "no pgkeep binary at \(TestServer.binary)")
    }
}
