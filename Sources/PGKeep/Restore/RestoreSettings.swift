import Foundation

extension Settings {
    /// Where a restore writes: a docker compose service (its default database) or a server
    /// reached from here (the database `--dbname` or PGDATABASE names). A restore never takes
    /// its target from the config file's connection, which names where backups come from.
    public func restoreEndpoint(
        spec: ConnectionSpec, connection flags: ConnectionFlags, pgBinFlag: String?, composeFlag: DockerComposeOptions?
    ) throws -> (endpoint: RestoreEndpoint, database: String) {
        if config?.database != nil && flags.dbname == nil && environment["PGDATABASE"] == nil && composeFlag == nil {
            throw PGKeepError(
                .usage, "name the target database with --dbname: a restore never defaults to the config file's database"
            )
        }
        let spec = spec.writing()
        if let compose = dockerCompose(flag: composeFlag) {
            let endpoint = try DockerComposeRestoreEndpoint(options: compose, spec: spec, environment: environment)
            return (endpoint, try endpoint.service.defaultDatabase())
        }
        let endpoint = try LocalRestoreEndpoint(
            spec: spec, tools: tools(pgBinFlag: pgBinFlag), environment: environment)
        guard let name = spec.database ?? environment["PGDATABASE"] else {
            throw PGKeepError(.usage, "name the target database with --dbname (a name or a URI)")
        }
        return (endpoint, name)
    }
}
