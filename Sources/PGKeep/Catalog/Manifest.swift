import Foundation

/// The JSON record written beside every backup (`<data file>.manifest.json`). A backup exists
/// only once its manifest does. The format is documented in docs/manifest.md; keys are
/// snake_case, times UTC ISO 8601, sizes in bytes, checksums lowercase hex SHA-256.
public struct Manifest: Codable, Sendable, Equatable {
    public static let currentVersion = 1

    /// How the data file is compressed and by whom.
    public struct Compression: Codable, Sendable, Equatable {
        /// "gzip", "zstd" or "none".
        public var algorithm: String
        public var level: Int?
        /// "pgkeep" (one compressed stream over the whole dump) or "pg_dump" (per file, directory format).
        public var appliedBy: String?

        enum CodingKeys: String, CodingKey {
            case algorithm, level
            case appliedBy = "applied_by"
        }
    }

    /// One file of a directory-format backup.
    public struct FileEntry: Codable, Sendable, Equatable {
        public var path: String
        public var size: Int64
        public var sha256: String
    }

    /// What was checked before the backup was recorded.
    public struct Verification: Codable, Sendable, Equatable {
        public var verifiedAt: String
        /// The file was read back from disk and its SHA-256 matched what was written.
        public var sha256Reread: Bool
        /// Every compressed stream was decompressed to its end (gzip: CRC-32 and length checked;
        /// zstd: the frame's checksum). The key keeps its first name for older readers.
        public var gzipComplete: Bool?
        /// `pg_restore --list` read the archive's table of contents.
        public var pgRestoreList: Bool?
        /// Entries in that table of contents.
        public var tocEntries: Int?
        /// The SQL script ends with pg_dump's "dump complete" line.
        public var sqlTrailer: Bool?

        enum CodingKeys: String, CodingKey {
            case verifiedAt = "verified_at"
            case sha256Reread = "sha256_reread"
            case gzipComplete = "gzip_complete"
            case pgRestoreList = "pg_restore_list"
            case tocEntries = "toc_entries"
            case sqlTrailer = "sql_trailer"
        }
    }

    /// Set when the dump ran inside a docker compose service.
    public struct DockerCompose: Codable, Sendable, Equatable {
        public var service: String
        public var composeCommand: String

        enum CodingKeys: String, CodingKey {
            case service
            case composeCommand = "compose_command"
        }
    }

    public var manifestVersion: Int = Manifest.currentVersion
    public var tool: String = "pgkeep"
    public var pgkeepVersion: String = PGKeepVersion.string
    public var database: String
    /// The data file or directory, relative to the manifest's directory.
    public var file: String
    public var format: BackupFormat
    public var compression: Compression
    /// Bytes on disk (all files, for a directory).
    public var size: Int64
    /// SHA-256 of the data file; for a directory, of its `files` list as `sha256sum` prints it
    /// (`<sha256>  <path>\n` per file, sorted by path).
    public var sha256: String
    /// Bytes of the dump before pgkeep's compression (nil for directory format).
    public var uncompressedSize: Int64?
    public var files: [FileEntry]?
    public var startedAt: String
    public var finishedAt: String
    public var durationSeconds: Double
    public var label: String?
    public var serverVersion: String
    public var serverVersionNum: Int
    public var pgDumpVersion: String
    /// The pg_dump that ran (chosen by --pg-bin or as the newest client found); nil inside a container.
    public var pgDumpPath: String?
    /// pg_dump's options, without connection details or secrets.
    public var pgDumpOptions: [String]
    /// Where the dump came from, password masked.
    public var source: String
    public var dockerCompose: DockerCompose?
    public var verification: Verification
    /// Exact per-table row counts taken in pg_dump's own snapshot (`backup --row-counts`),
    /// by `schema.table` as format('%I.%I') writes it.
    public var rowCounts: [String: Int]?
    /// The data as of the backup's snapshot, for a row-for-row check (`backup --fingerprint`).
    public var fingerprint: Fingerprint?
    /// The last restore drill of this backup: when, whether it passed, how long each phase took.
    public var drill: Drill?

    public struct Drill: Codable, Sendable, Equatable {
        public var at: String
        public var ok: Bool
        public var seconds: Double
        /// Seconds per phase: check, schema, data, post-data (or restore), verify.
        public var phases: [String: Double]
        public var rows: Int?
        /// The bytes the drill restored (the uncompressed archive when known, else the file).
        public var bytes: Int64
        public var error: String?
    }
    /// Pinned backups are never pruned.
    public var pinned: Bool = false
    /// Set when the file is encrypted (age, after compression). `size` and `sha256` describe the
    /// encrypted file; the plaintext fields describe what restore gets after decrypting it.
    public var encryption: Encryption?
    /// What the shrink guard found against the previous normal backups (size, lost rows, missing
    /// tables), in words; nil or empty when nothing.
    public var anomalies: [String]?
    /// The shrink was intended (`backup --accept-shrink`, `pgkeep accept`): not an anomaly.
    public var shrinkAccepted: Bool?
    /// The accepted shrink (its file) this backup's comparison started from, while older, larger
    /// backups are still kept: so the new normal survives the accepted backup's pruning.
    public var shrinkBaseline: String?

    /// Found shrinking and not accepted.
    public var isAnomalous: Bool { Self.isAnomalous(anomalies, accepted: shrinkAccepted) }

    static func isAnomalous(_ anomalies: [String]?, accepted: Bool?) -> Bool {
        !(anomalies ?? []).isEmpty && accepted != true
    }

    /// How a backup was encrypted: to whom (public recipients only, never a secret).
    public struct Encryption: Codable, Sendable, Equatable {
        public var tool: String = "age"
        public var recipients: [String]
        /// Encrypted with a passphrase (age's scrypt recipient) instead of recipients' keys.
        public var passphrase: Bool?
        public var plaintextSize: Int64
        public var plaintextSha256: String

        public init(recipients: [String], passphrase: Bool? = nil, plaintextSize: Int64, plaintextSha256: String) {
            self.recipients = recipients
            self.passphrase = passphrase
            self.plaintextSize = plaintextSize
            self.plaintextSha256 = plaintextSha256
        }

        enum CodingKeys: String, CodingKey {
            case tool, recipients, passphrase
            case plaintextSize = "plaintext_size"
            case plaintextSha256 = "plaintext_sha256"
        }
    }

    // Explicit keys: JSONDecoder's key conversion costs more than the rest of a decode, and
    // `pgkeep list` decodes every manifest in the directory.
    enum CodingKeys: String, CodingKey {
        case manifestVersion = "manifest_version"
        case tool
        case pgkeepVersion = "pgkeep_version"
        case database, file, format
        case compression, size, sha256
        case uncompressedSize = "uncompressed_size"
        case files
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case durationSeconds = "duration_seconds"
        case label
        case serverVersion = "server_version"
        case serverVersionNum = "server_version_num"
        case pgDumpVersion = "pg_dump_version"
        case pgDumpOptions = "pg_dump_options"
        case pgDumpPath = "pg_dump_path"
        case source
        case dockerCompose = "docker_compose"
        case verification
        case rowCounts = "row_counts"
        case fingerprint, drill
        case pinned, encryption, anomalies
        case shrinkAccepted = "shrink_accepted"
        case shrinkBaseline = "shrink_baseline"
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0a)
        return data
    }

    public static func decode(_ data: Data) throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: data)
    }

    public static func load(path: String) throws -> Manifest {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PGKeepError(.backup, "cannot read manifest \(path)")
        }
        do {
            return try decode(data)
        } catch {
            throw PGKeepError(.backup, "manifest \(path) is not valid: \(error)")
        }
    }
}
