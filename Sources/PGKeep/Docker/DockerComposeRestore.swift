import Crypto
import Foundation

/// Restores inside a docker compose service: the archive (decompressed, for compressed inputs) is
/// copied into the container with `exec -T ... dd`, its SHA-256 is computed inside the container
/// and compared with what was sent before anything is restored, the container's own pg_restore or
/// psql reads it there, and the copy (a private file of the run's, `ComposeRun`) is removed
/// afterwards, or by the sweep that follows a signal or a SIGKILL.
public final class DockerComposeRestoreEndpoint: RestoreEndpoint {
    public let service: DockerComposeService

    public init(options: DockerComposeOptions, spec: ConnectionSpec, environment: [String: String]) throws {
        service = try DockerComposeService(options: options, spec: spec, environment: environment)
    }

    public func describe(database: String) -> String {
        "database \"\(database)\" in docker compose service \"\(service.name)\""
    }

    public func query(_ sql: String, database: String) throws -> [[String?]] {
        try service.query(sql, database: database)
    }

    public func tool(_ name: String, database: String?, arguments: [String]) throws -> Command {
        try service.tool(name, database: database, arguments: arguments)
    }

    public func put(_ data: Data, name: String) throws -> String {
        try copyIn { send in try data.withUnsafeBytes { try send($0) } }
    }

    public func stage(_ input: RestoreInput, needsFile: Bool) throws -> String? {
        guard input.kind != .directory else {
            throw PGKeepError(
                .usage,
                "directory-format backups cannot be restored through --docker-compose; use a custom-format backup "
                    + "(the default)"
            )
        }
        return try copyIn { send in
            if input.kind.codec != nil {
                try input.decompress {
                    try send($0)
                    return true
                }
            } else {
                let fd = Foundation.open(input.path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw PGKeepError(.backup, "cannot open \(input.path): \(errnoText())") }
                defer { close(fd) }
                _ = try hashChunks(of: fd, path: input.path, send)
            }
        }
    }

    /// Copies what `produce` sends into a new file in the container and checks it there.
    public func copyIn(_ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> String {
        let path = try service.privateFile("restore-\(UInt64.random(in: 0...UInt64.max))")
        let child = ChildProcess(try service.exec(["dd", "of=\(path)", "bs=1048576"]), stdin: .pipe, stdout: .null)
        try child.start()
        var hasher = SHA256()
        var failed = false
        do {
            try produce { chunk in
                guard !failed else { return }
                hasher.update(bufferPointer: chunk)
                failed = !FileSystem.writeUntilClosed(child.stdinDescriptor, chunk)
            }
        } catch {
            child.closeStdin()
            child.wait()
            throw error
        }
        child.closeStdin()
        let result = child.wait()
        guard result.succeeded, !failed else {
            throw result.failure("cannot copy the backup into docker compose service \"\(service.name)\"")
        }
        let sent = hasher.finalize().hexString
        let (out, sumResult) = try ChildProcess.capture(try service.exec(["sha256sum", path]))
        let inside = String(decoding: out, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
        guard sumResult.succeeded, inside == sent else {
            throw PGKeepError(
                .backup,
                "the copy in docker compose service \"\(service.name)\" does not match what was sent (sha256 "
                    + "\(inside.prefix(12))… inside, \(sent.prefix(12))… sent); the target was not touched",
                command: sumResult.command.description, stderrTail: sumResult.stderrTail())
        }
        return path
    }

    public func cleanUp() {
        service.finish()
    }
}
