#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests, the demo and the benchmark.
#
#   Scripts/pg-server.sh start DIR PORT [PASSWORD]   initdb + start; prints nothing else
#   Scripts/pg-server.sh stop DIR                    stop and delete DIR
#
# PostgreSQL refuses to run as root, so the cluster runs as the postgres user in DIR (owned by
# it). It listens on 127.0.0.1:PORT and on a socket in DIR. TCP connections need the password
# (scram-sha-256) for the postgres role; socket connections are trusted.
set -euo pipefail

cmd=${1:?usage: pg-server.sh start DIR PORT [PASSWORD] | stop DIR}
dir=${2:?DIR missing}

pgbin=${PGKEEP_SERVER_BIN:-}
if [ -z "$pgbin" ]; then
  for v in 17 16 15 14 13; do
    if [ -x "/usr/lib/postgresql/$v/bin/postgres" ]; then pgbin=/usr/lib/postgresql/$v/bin; break; fi
  done
fi
[ -n "$pgbin" ] || { echo "pg-server.sh: no PostgreSQL server found (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    port=${3:?PORT missing}
    password=${4:-pgkeep-test-secret}
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      chown postgres:postgres "$dir"
      # The postgres user must be able to reach DIR: open up parents that root made private.
      p=$(dirname "$dir")
      while [ "$p" != / ]; do
        if ! runuser -u postgres -- test -x "$p"; then chmod o+x "$p"; fi
        p=$(dirname "$p")
      done
    fi
    chmod 700 "$dir"
    pwfile="$dir/.pw"
    printf '%s\n' "$password" > "$pwfile"
    if [ "$(id -u)" = 0 ]; then chown postgres "$pwfile"; fi
    as_pg "$pgbin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$pwfile"
    cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_wal_size = 2GB
shared_buffers = 256MB
CONF
    as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_pg "$pgbin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: pg-server.sh start DIR PORT [PASSWORD] | stop DIR" >&2; exit 2 ;;
esac
