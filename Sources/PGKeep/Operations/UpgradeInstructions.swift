import Foundation

/// The commands `pgkeep snapshot` prints: how to restore a pre-upgrade snapshot on the new
/// server, first the globals (roles, tablespaces), then each database; with pgkeep and with the
/// stock tools alone.
public enum UpgradeInstructions {
    public static func text(records: [BackupRecord], source: String, newServer: String?, label: String?) -> String {
        let q = Command.shellQuote
        let server = records.first.map { "PostgreSQL \($0.manifest.serverVersion)" } ?? "the server"
        var lines = [
            "# pgkeep snapshot\(label.map { " \"\($0)\"" } ?? "") of \(source) (\(server)), "
                + (records.first?.manifest.startedAt ?? ""),
            "# \(records.filter { $0.manifest.format != .globals }.count) databases"
                + (records.contains { $0.manifest.format == .globals } ? " and the globals" : "")
                + ", pinned: prune keeps them until `pgkeep unpin`.",
            "# To restore on the new server, set NEW to it (no database name at the end), then run, in order:",
            "NEW=\(q(newServer ?? "postgresql://postgres@NEW-HOST:5432"))",
        ]
        let encrypted = records.contains { $0.manifest.encryption != nil }
        if encrypted {
            lines += [
                "# The files are encrypted with age: KEY is the key file of one of their recipients.",
                "KEY=/path/to/age-key.txt",
            ]
        }
        // The stock command that writes a file's SQL or archive to stdout.
        func cat(_ r: BackupRecord) -> String {
            var steps: [String] = []
            if r.manifest.encryption != nil { steps.append("age -d -i \"$KEY\" \(q(r.path))") }
            if let codec = Codec(rawValue: r.manifest.compression.algorithm) {
                steps.append(steps.isEmpty ? "\(codec.stockDecompress) \(q(r.path))" : codec.stockDecompress)
            }
            return steps.isEmpty ? "cat \(q(r.path))" : steps.joined(separator: " | ")
        }
        let identity = encrypted ? " --identity \"$KEY\"" : ""
        if let globals = records.first(where: { $0.manifest.format == .globals }) {
            lines += [
                "",
                "# 1. Roles and tablespaces (as a superuser; \"role ... already exists\" for the superuser itself is "
                    + "expected):",
                "\(cat(globals)) | psql -X -d \"$NEW/postgres\"",
            ]
        }
        lines += [
            "", "# 2. Each database: pgkeep checks the file, creates the database and restores it in one transaction:",
        ]
        let databases = records.filter { $0.manifest.format != .globals }
        // initdb makes "postgres" on every new cluster: restore into it instead of creating it.
        func exists(_ r: BackupRecord) -> Bool { r.manifest.database == "postgres" }
        for r in databases {
            lines.append(
                "pgkeep restore \(q(r.path))\(exists(r) ? "" : " --create")\(identity) "
                    + "--dbname \"$NEW/\(uriPath(r.manifest.database))\""
            )
        }
        lines += [
            "",
            "#    or with the stock tools alone (pg_restore --create connects to postgres and creates the database):",
        ]
        for r in databases {
            switch r.manifest.format {
            case .custom where Codec(rawValue: r.manifest.compression.algorithm) != nil || r.manifest.encryption != nil:
                lines.append(
                    "\(cat(r)) | pg_restore\(exists(r) ? "" : " --create") --exit-on-error -d \"$NEW/postgres\"")
            case .custom, .directory:
                lines.append(
                    "pg_restore\(exists(r) ? "" : " --create") --exit-on-error -d \"$NEW/postgres\" \(q(r.path))")
            case .plain, .globals:
                lines.append(
                    (exists(r)
                        ? "" : "createdb -d \"$NEW/postgres\" -T template0 -E UTF8 \(q(r.manifest.database)) && ")
                        + "\(cat(r)) | psql -X -v ON_ERROR_STOP=1 --single-transaction -d "
                        + "\"$NEW/\(uriPath(r.manifest.database))\""
                )
            }
        }
        lines += [
            "",
            "# 3. Then refresh the planner statistics on the new server: vacuumdb -d \"$NEW/postgres\" --all "
                + "--analyze-in-stages",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// A database name as a URI path segment.
    static func uriPath(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))
            ?? name
    }
}
