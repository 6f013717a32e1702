import Foundation
import Testing

@testable import PGKeep

@Suite struct ToolVersionTests {
    @Test func parsesVersionOutputs() {
        #expect(
            ToolVersion.parse("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)")
                == ToolVersion(string: "15.18", majorKey: 1500))
        #expect(ToolVersion.parse("pg_dump (PostgreSQL) 9.6.24") == ToolVersion(string: "9.6.24", majorKey: 906))
        #expect(ToolVersion.parse("pg_restore (PostgreSQL) 17beta1")?.majorKey == 1700)
        #expect(ToolVersion.parse("something else") == nil)
    }

    @Test func olderPgDumpIsRefused() throws {
        let server = ServerInfo(versionNumber: 160_002, version: "16.2", database: "d", user: "u")
        #expect(server.majorKey == 1600)
        #expect(throws: PGKeepError.self) {
            try checkDumpVersion(ToolVersion(string: "15.18", majorKey: 1500), server: server, dumpPath: "pg_dump")
        }
        try checkDumpVersion(ToolVersion(string: "17.0", majorKey: 1700), server: server, dumpPath: "pg_dump")
        #expect(throws: PGKeepError.self) {
            try checkRestoreVersion(
                ToolVersion(string: "14.1", majorKey: 1400), dump: ToolVersion(string: "15.18", majorKey: 1500),
                restorePath: "pg_restore")
        }
        try checkRestoreVersion(
            ToolVersion(string: "16.0", majorKey: 1600), dump: ToolVersion(string: "15.18", majorKey: 1500),
            restorePath: "pg_restore")
        #expect(ServerInfo(versionNumber: 90624, version: "9.6.24", database: "d", user: "u").majorKey == 906)
    }
}

@Suite struct OptionsTests {
    @Test func filtersPassThrough() {
        var f = DumpFilters()
        f.tables = ["public.film", "actor"]
        f.excludeTables = ["big"]
        f.schemas = ["s"]
        f.schemaOnly = true
        f.noOwner = true
        f.noPrivileges = true
        #expect(
            f.arguments == [
                "--table=public.film", "--table=actor", "--exclude-table=big", "--schema=s",
                "--schema-only", "--no-owner", "--no-privileges",
            ])
    }

    @Test func incompatibleOptionsAreUsageErrors() {
        var o = BackupOptions(directory: "/tmp/x")
        o.jobs = 2
        #expect(throws: PGKeepError.self) { try o.validate() }
        o.format = .directory
        #expect(throws: Never.self) { try o.validate() }
        o.filters.schemaOnly = true
        o.filters.dataOnly = true
        #expect(throws: PGKeepError.self) { try o.validate() }
        var p = BackupOptions(directory: "/tmp/x")
        p.compression = CompressionChoice(codec: .gzip, level: 10)
        #expect(throws: PGKeepError.self) { try p.validate() }
    }
}

@Suite struct DockerComposeArgumentTests {
    @Test func execUsesDashCapitalTAndPassesSecretsByName() throws {
        let o = DockerComposeOptions(service: "db", composeFiles: ["a.yml", "b.yml"], projectDirectory: "/srv/app")
        let args = o.execArguments(passingEnvironment: ["PGPASSWORD"], inner: ["pg_dump", "--format=custom"])
        #expect(args == ["exec", "-T", "-e", "PGPASSWORD", "db", "pg_dump", "--format=custom"])
        #expect(!args.contains("-t"))
        let bin = NSTemporaryDirectory() + "pgkeep-docker-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for name in ["docker", "docker-compose"] {
            _ = FileManager.default.createFile(
                atPath: bin + "/" + name, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        }
        let base = try o.baseCommand(searchPath: [bin])
        #expect(base.executable == bin + "/docker")
        #expect(base.arguments == ["compose", "-f", "a.yml", "-f", "b.yml", "--project-directory", "/srv/app"])
        let legacy = try DockerComposeOptions(service: "db", composeCommand: "docker-compose").baseCommand(searchPath: [
            bin
        ])
        #expect(legacy.arguments.isEmpty)
    }
}

@Suite struct ManifestTests {
    @Test func encodesSnakeCaseAndRoundTrips() throws {
        let m = Manifest(
            database: "db", file: "db_2026-04-02T020000Z.dump.gz", format: .custom,
            compression: .init(algorithm: "gzip", level: 6, appliedBy: "pgkeep"), size: 10, sha256: "ab",
            uncompressedSize: 20, files: nil, startedAt: "2026-04-02T02:00:00Z", finishedAt: "2026-04-02T02:00:01Z",
            durationSeconds: 1.0, label: "before migration", serverVersion: "15.18", serverVersionNum: 150018,
            pgDumpVersion: "15.18", pgDumpOptions: ["--format=custom"], source: "postgresql://u@h/db",
            dockerCompose: nil, verification: .init(verifiedAt: "2026-04-02T02:00:01Z", sha256Reread: true))
        let data = try m.encoded()
        let text = String(decoding: data, as: UTF8.self)
        for key in [
            "\"manifest_version\"", "\"uncompressed_size\"", "\"started_at\"", "\"pg_dump_options\"",
            "\"server_version_num\"", "\"sha256_reread\"",
        ] {
            #expect(text.contains(key), "\(key)")
        }
        #expect(try Manifest.decode(data) == m)
    }
}

@Suite struct ChildProcessTests {
    @Test func largeStderrDoesNotBlockStdout() throws {
        // 300 KiB on stderr before anything on stdout: reading the pipes one after the other would hang.
        let cmd = Command(
            executable: "/bin/sh", arguments: ["-c", "head -c 307200 /dev/zero | tr '\\0' e >&2; echo done"])
        let (out, result) = try ChildProcess.capture(cmd)
        #expect(String(decoding: out, as: UTF8.self) == "done\n")
        #expect(result.succeeded)
        #expect(result.stderr.hasSuffix("eeee"))
    }

    @Test func exitStatusAndSignalsAreReported() throws {
        let failed = try ChildProcess.capture(
            Command(executable: "/bin/sh", arguments: ["-c", "echo oops >&2; exit 3"])
        ).result
        #expect(failed.termination == .exited(3))
        #expect(failed.stderrTail() == "oops")
        let killed = try ChildProcess.capture(Command(executable: "/bin/sh", arguments: ["-c", "kill -9 $$"])).result
        #expect(killed.termination == .signaled(9))
        #expect(killed.failure("x").description.contains("killed by signal 9"))
    }

    /// The child's own process group: stopping it stops what it started.
    @Test func terminateStopsTheChildsGrandchildrenToo() throws {
        let child = ChildProcess(
            Command(executable: "/bin/sh", arguments: ["-c", "sleep 300 & echo $!; wait"]), stdout: .pipe)
        try child.start()
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(child.stdoutDescriptor, &buffer, buffer.count)
        let grandchild = try #require(
            Int32(
                String(decoding: buffer.prefix(max(n, 0)), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)))
        let group = String(
            decoding: FileManager.default.contents(atPath: "/proc/\(grandchild)/stat") ?? Data(), as: UTF8.self)
        #expect(group.split(separator: ")").last?.split(separator: " ")[2] == Substring(String(child.pid)), "its group")
        child.terminate(grace: 1)
        child.wait()
        var stillThere = true
        for _ in 0..<200 where stillThere {
            let stat = String(
                decoding: FileManager.default.contents(atPath: "/proc/\(grandchild)/stat") ?? Data(), as: UTF8.self)
            stillThere = !stat.isEmpty && !(stat.split(separator: ")").last?.hasPrefix(" Z") ?? true)
            if stillThere { usleep(20_000) }
        }
        #expect(!stillThere, "the grandchild sleep was stopped with its parent")
    }

    /// A grandchild that keeps stderr open cannot make pgkeep wait for it.
    @Test func aGrandchildHoldingStderrDoesNotHangTheWait() throws {
        let child = ChildProcess(
            Command(executable: "/bin/sh", arguments: ["-c", "echo bye >&2; sleep 60 >/dev/null & exit 0"]))
        child.pipeGrace = 0.5
        let started = Date()
        try child.start()
        let result = child.wait()
        #expect(result.succeeded && result.stderr == "bye\n")
        #expect(Date().timeIntervalSince(started) < 30, "not held for the grandchild's 60 s")
        child.signalGroup(SIGKILL)
    }

    /// Children start with every signal at its default (pgkeep ignores SIGPIPE) and none blocked.
    @Test func childrenStartWithDefaultSignals() throws {
        Cancellation.shared.install()
        let (out, _) = try ChildProcess.capture(
            Command(executable: "/bin/sh", arguments: ["-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status"]))
        let text = String(decoding: out, as: UTF8.self)
        #expect(text.contains("SigBlk:\t0000000000000000"), "\(text)")
        // The shell itself ignores nothing it was not told to; SIGPIPE (bit 12) must be clear.
        let ignored =
            text.split(separator: "\n").first { $0.hasPrefix("SigIgn:") }
            .flatMap { UInt64($0.dropFirst(8), radix: 16) } ?? UInt64.max
        #expect(ignored & (1 << 12) == 0, "SIGPIPE is not ignored in the child: \(text)")
    }

    @Test func missingExecutableIsAPreflightError() {
        let child = ChildProcess(Command(executable: "/nonexistent/pg_dump", arguments: []))
        #expect(throws: PGKeepError.self) { try child.start() }
    }
}

@Suite struct ByteCountTests {
    @Test func sizesReadAsPrintfWouldPrintThem() {
        #expect(ByteCount.text(0) == "0 B")
        #expect(ByteCount.text(999) == "999 B")
        #expect(ByteCount.text(1_000) == "1.0 kB")
        #expect(ByteCount.text(123_456) == "123.5 kB")
        #expect(ByteCount.text(884_149) == "884.1 kB")
        #expect(ByteCount.text(999_999) == "1000.0 kB")
        #expect(ByteCount.text(37_649_021) == "37.6 MB")
        #expect(ByteCount.text(1_000_000_000) == "1.00 GB")
        #expect(ByteCount.text(2_345_678_901) == "2.35 GB")
        #expect(ByteCount.text(1_005_000_000) == "1.01 GB")
    }

    /// FileSystem.parent(of:) gives what NSString's deletingLastPathComponent gives, and does not
    /// trap where Foundation's does (a relative name of one character).
    @Test func parentOfAPath() {
        for path in ["a/b", "/a/b", "/a", "ab", "ab/", "a/b/", "/", "x//y", "./ab", "../a/b", "/a/b//"] {
            #expect(FileSystem.parent(of: path) == (path as NSString).deletingLastPathComponent, "\(path)")
        }
        #expect(FileSystem.parent(of: "b") == "")
        #expect(FileSystem.parent(of: "b/") == "")
        #expect(FileSystem.parent(of: "./") == "")
        #expect(FileSystem.parent(of: "a//") == "")
        #expect(FileSystem.parent(of: "./b") == ".")
        #expect(FileSystem.parent(of: "/b/") == "/")
    }
}
