#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what is missing (Debian packages), starts a
# throwaway PostgreSQL loaded with the Pagila fixture, builds, runs `swift test`, stops the server.
# Run as root (the server itself runs as the postgres user; the fault tests mount a small tmpfs).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
dpkg -s zlib1g-dev >/dev/null 2>&1 || missing+=(zlib1g-dev)
dpkg -s libpq-dev >/dev/null 2>&1 || missing+=(libpq-dev)
dpkg -s pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
ls /usr/lib/postgresql/*/bin/pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fixtures=${PGKEEP_FIXTURES:-../shared/fixtures}
[ -f "$fixtures/pagila-schema.sql" ] || { echo "test.sh: Pagila fixture not found in $fixtures" >&2; exit 1; }

work=$(mktemp -d /tmp/pgkeep-test.XXXXXX)
chmod 755 "$work"
port=$((54000 + RANDOM % 900))
password="test-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cleanup() { Scripts/pg-server.sh stop "$work/server" || true; rm -rf "$work"; }
trap cleanup EXIT

echo "test.sh: starting PostgreSQL ($pgbin) on 127.0.0.1:$port"
Scripts/pg-server.sh start "$work/server" "$port" "$password"
sock="$work/server"
"$pgbin/psql" -X -q -h "$sock" -p "$port" -U postgres -c "CREATE DATABASE pagila"
"$pgbin/psql" -X -q -h "$sock" -p "$port" -U postgres -d pagila -v ON_ERROR_STOP=1 -f "$fixtures/pagila-schema.sql" >/dev/null
"$pgbin/psql" -X -q -h "$sock" -p "$port" -U postgres -d pagila -v ON_ERROR_STOP=1 -f "$fixtures/pagila-data.sql" >/dev/null

echo "test.sh: building"
swift build
export PGKEEP_BIN="$(swift build --show-bin-path)/pgkeep"
export PGKEEP_TEST_HOST=127.0.0.1 PGKEEP_TEST_PORT=$port PGKEEP_TEST_SOCKET=$sock
export PGKEEP_TEST_PASSWORD=$password PGKEEP_TEST_PG_BIN=$pgbin

echo "test.sh: running swift test"
# One test at a time: several tests back up the whole cluster (--all) and others create and drop
# databases on the same server.
swift test --no-parallel "$@"
