import Foundation

/// A stand-in `docker` (or `docker-compose`) for what the real engine (RealDocker) cannot do on
/// demand: a fault injected into one command, and the argument shape of the compose plugin. It
/// logs its arguments, checks them as docker compose would be called (compose, -f and
/// --project-directory, exec -T, never -t, variables by name only), then runs the inner command
/// locally with the environment of the service it names (`services`: name → shell lines that
/// set it up). `hooks` are shell lines run just before, with the inner command in "$@" (for
/// injected faults).
enum StandInDocker {
    static func write(command: String, services: [String: String], hooks: String = "") -> (bin: String, log: String) {
        let bin = TestServer.tempDir("docker")
        let log = bin + "/calls.log"
        let compose =
            command == "docker"
            ? "[ \"$1\" = compose ] || { echo 'stand-in: expected compose' >&2; exit 97; }; shift" : ""
        let cases = services.keys.sorted().map { "  \($0))\n\(services[$0]!)\n    ;;" }.joined(separator: "\n")
        let script = """
            #!/bin/bash
            printf '%s\\n' "ARGS $*" >> '\(log)'
            \(compose)
            while [ $# -gt 0 ]; do
              case "$1" in
                -f|--project-directory) shift 2 ;;
                exec) shift; break ;;
                *) echo "stand-in: unexpected argument $1" >&2; exit 97 ;;
              esac
            done
            [ "$1" = -T ] || { echo "stand-in: exec without -T" >&2; exit 98; }
            shift
            while [ "$1" = -e ]; do
              case "$2" in *=*) echo "stand-in: a value in argv" >&2; exit 99 ;; esac
              shift 2
            done
            service=$1
            shift
            for a in "$@"; do [ "$a" = -t ] && { echo "stand-in: -t" >&2; exit 95; }; done
            \(hooks)
            case "$service" in
            \(cases)
              *) echo "stand-in: no such service $service" >&2; exit 96 ;;
            esac
            unset PGUSER PGDATABASE
            exec "$@"
            """
        let path = bin + "/" + command
        _ = FileManager.default.createFile(
            atPath: path, contents: Data(script.utf8), attributes: [.posixPermissions: 0o755])
        return (bin, log)
    }

    /// The environment inside a service whose PostgreSQL is the server at `socket`/`port`, with
    /// that server's client tools on PATH.
    static func postgres(socket: String, port: String, bin: String, database: String) -> String {
        """
            export POSTGRES_USER=postgres POSTGRES_DB=${STANDIN_DB:-\(database)}
            export PGHOST='\(socket)' PGPORT=\(port) PATH='\(bin)':"$PATH"
        """
    }
}
