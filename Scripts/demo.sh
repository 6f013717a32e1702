#!/usr/bin/env bash
# pgkeep's main job on an embedded default: a throwaway PostgreSQL with the Pagila sample
# database, backed up in each format, listed, restored with pgkeep (checked against the row counts
# recorded at backup time) and with the stock tools alone into new databases whose row counts are
# compared with the source, then pruned; then the cron job from a config file (run, status, verify
# with a restore drill). Cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
. Scripts/lib.sh

ensure_packages
# The demo brings its own server: PG* variables of the calling shell (pointing at another server)
# must not send its backups there.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGDATABASE PGSERVICE PGPASSFILE PGSSLMODE PGOPTIONS
if [ -n "${PGKEEP_BIN:-}" ]; then
  pgkeep=$PGKEEP_BIN  # test.sh runs the demo with the binary it tested
else
  echo "== building pgkeep (release)"
  swift build -c release --product pgkeep 2>&1 | tail -n 1
  pgkeep="$(swift build -c release --show-bin-path)/pgkeep"
fi

work=$(mktemp -d /tmp/pgkeep-demo.XXXXXX)
trap 'stop_everything "$work"' EXIT
chmod 755 "$work"
start_server "$work/server"
echo "== PostgreSQL on 127.0.0.1:$SERVER_PORT; loading Pagila"
load_pagila pagila

# The password reaches pgkeep through the environment, as it would from cron.
export PATH="$PGBIN:$PATH"
export DATABASE_URL="postgresql://postgres:$SERVER_PASSWORD@127.0.0.1:$SERVER_PORT/pagila"
backups="$work/backups"
run() { echo "\$ $*"; "$@"; }

echo "== backups, one per format"
run "$pgkeep" backup --dir "$backups" --label demo --row-counts
run "$pgkeep" backup --dir "$backups" --format plain
run "$pgkeep" backup --dir "$backups" --format directory --jobs 2
run "$pgkeep" backup --dir "$backups" --all --json > "$work/all.json"
echo "   --all --json: $(grep -c '"path"' "$work/all.json") backups (every database plus the globals)"

echo "== pgkeep list"
run "$pgkeep" list --dir "$backups"

echo "== what is on disk"
(cd "$backups" && find . -maxdepth 2 -not -path '*.dir/*' | sort | sed 's/^/   /')
# The backup taken with --row-counts, chosen by what it holds, not by file order (four backups of
# one second sort by their sequence, and only the first has row counts).
manifest=$(grep -l '"row_counts"' "$backups"/pagila/*.dump.gz.manifest.json | head -n 1)
[ -n "$manifest" ] || { echo "== demo FAILED: no backup with row counts" >&2; exit 1; }
echo "== one manifest ($manifest)"
sed 's/^/   /' "$manifest"

echo "== pgkeep restore into a new database, checked against the row counts recorded at backup time"
run "$pgkeep" restore "$manifest" --dbname pagila_pgkeep --create --verify
echo "== pgkeep restore of one table from the newest backup"
run "$pgkeep" restore --latest --database pagila --dir "$backups" --dbname pagila_one --create --table public.film

echo "== restore with the stock tools alone (gunzip + pg_restore) into pagila_restored"
dump="${manifest%.manifest.json}"
export PGHOST=127.0.0.1 PGPORT=$SERVER_PORT PGUSER=postgres PGPASSWORD=$SERVER_PASSWORD
run sha256sum "$dump"
createdb pagila_restored
echo "\$ gunzip -c $dump | pg_restore --exit-on-error -d pagila_restored"
gunzip -c "$dump" | pg_restore --exit-on-error -d pagila_restored

echo "== row counts, source vs restored"
counts() {
  psql -X -At -d "$1" -c "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1" |
    while read -r t; do printf '%s %s\n' "$t" "$(psql -X -At -d "$1" -c "SELECT count(*) FROM $t")"; done
}
counts pagila > "$work/src.txt"
counts pagila_restored > "$work/dst.txt"
paste "$work/src.txt" "$work/dst.txt" | awk '{printf "   %-32s %8s %8s %s\n", $1, $2, $4, ($2 == $4 ? "ok" : "DIFFERENT")}'
if ! cmp -s "$work/src.txt" "$work/dst.txt"; then
  echo "== demo FAILED: row counts differ" >&2
  exit 1
fi

echo "== retention: what the default policy would delete, then prune keeping the 2 newest per database"
run "$pgkeep" prune --dir "$backups" --dry-run
run "$pgkeep" prune --dir "$backups" --keep-last 2 --keep-daily 0 --keep-weekly 0 --keep-monthly 0
run "$pgkeep" list --dir "$backups"
echo "== the cron job: a config file (password in a 0600 file), run, status, verify with a restore drill"
printf '%s\n' "$SERVER_PASSWORD" > "$work/password"; chmod 600 "$work/password"
cat > "$work/pgkeep.toml" <<TOML
[connection]
host = "127.0.0.1"
port = $SERVER_PORT
user = "postgres"
password_file = "password"
pg_bin = "$PGBIN"

[backup]
dir = "backups"
databases = ["pagila"]
row_counts = true

[status]
max_age = "26h"
TOML
(
  unset DATABASE_URL PGHOST PGPORT PGUSER PGPASSWORD
  run "$pgkeep" config check "$work/pgkeep.toml"
  run "$pgkeep" schedule --cron "0 2 * * *" --config "$work/pgkeep.toml"
  run "$pgkeep" run --config "$work/pgkeep.toml"
  run "$pgkeep" status --config "$work/pgkeep.toml"
  run "$pgkeep" verify --all --config "$work/pgkeep.toml" --database pagila --restore-drill
)
echo "== the shrink guard: a copy of pagila whose rentals and payments a bug deleted, caught by the next backup"
psql_q() { "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$SERVER_PORT" -U postgres "$@"; }
psql_q -d postgres -c "CREATE DATABASE pagila_shrink TEMPLATE pagila"
run "$pgkeep" backup -d pagila_shrink --dir "$work/shrink" --row-counts
psql_q -d pagila_shrink -c "TRUNCATE rental, payment CASCADE"
run "$pgkeep" backup -d pagila_shrink --dir "$work/shrink" --row-counts --metrics-file "$work/pgkeep.prom"
run "$pgkeep" list --dir "$work/shrink"
if "$pgkeep" status --dir "$work/shrink"; then
  echo "== demo FAILED: status passed over a shrunken backup" >&2
  exit 1
fi
grep pgkeep_size_anomaly "$work/pgkeep.prom"
psql_q -d postgres -c "DROP DATABASE pagila_shrink"
echo "== demo ok: $(wc -l < "$work/src.txt") tables, identical row counts"
