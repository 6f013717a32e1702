#!/usr/bin/env bash
# Measures pgkeep against the stock tools, alternating runs in one session, and prints median
# wall-time ratios, output sizes and pgkeep's peak RSS.
#
#   Scripts/bench.sh [--runs N] [--sizes "20 50"] [--history "10000 100000"] [--parts "backup restore copy compose history fleet fingerprint recover endpoints"] [--keep] [--profile]
#
# For each size S the database is pgbench at scale S plus a table of 60000*S rows of md5 text
# and jsonb (scale 20: 1.2 million rows, about 570 MB on disk). Each command runs N times, in turn
# with its rivals, and one table shows per command: median wall time, the ratio to its stock
# rival's median (with the goal), output size (and size ratio where there is a goal), peak RSS.
#   backups: pg_dump -Fp > file (the floor); pgkeep backup vs pg_dump -Fc -f; --format plain vs
#     pg_dump -Fp | pigz -6 -p 2 (and gzip -6); --compress zstd vs pg_dump -Fc -Z0 | zstd -T2 -3 and,
#     where a PostgreSQL 16 client built with zstd is installed, pg_dump -Fc --compress=zstd:3;
#     plain zstd vs pg_dump -Fp | zstd -T2 -3; --encrypt-to (age) and --remote (moto's S3 API on
#     loopback) vs the default backup;
#   restores into a fresh database, gzip and zstd: plain vs DECOMPRESS | psql --single-transaction,
#     custom vs DECOMPRESS | pg_restore --single-transaction, --jobs 2 vs the fair baseline
#     DECOMPRESS > archive && pg_restore -j 2 archive; verify vs sha256sum + gunzip | pg_restore -f /dev/null.
# --profile adds perf profiles of the default and plain backups and the plain and --jobs restores.
# Then copies into a fresh database on the same server: pgkeep copy --jobs 2 (with and without its
# validation) against pg_dump -Fc | pg_restore -d and pgcopydb clone --table-jobs 2 --index-jobs 2;
# and, on generated backup directories of 10,000 and 100,000 backups (manifests and empty data
# files: 10 databases, hourly backups), pgkeep list, pgkeep prune --dry-run and pgkeep status: the
# first listing (no catalog cache yet), warm ones (through the cache) and a cold one (page cache dropped).
# Then compose against the host: one server in a docker compose service of the bench's own Docker
# Engine (Scripts/docker-engine.sh), backed up and restored into with --docker-compose and over TCP.
# The endpoints part: a backup alone, then beside a daemon whose /, /healthz and /metrics 100 clients
# keep asking (Scripts/http-load.py).
# --parts "backup restore copy compose history fleet fingerprint recover endpoints" picks the parts (default: all).
# Timings are for information; no test asserts a time. --sizes "" skips the database part.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
sizes="20 50"
keep=0
history="10000 100000"
profile=0
parts="backup restore copy compose history fleet fingerprint recover endpoints"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --history) history=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    --parts) parts=$2; shift 2 ;;
    *) echo "usage: bench.sh [--runs N] [--sizes \"20 50\"] [--history \"10000 100000\"] [--parts \"backup restore copy compose history fleet fingerprint recover endpoints\"]" \
         "[--keep] [--profile]" >&2
       exit 2 ;;
  esac
done

. Scripts/lib.sh
ensure_packages pigz zstd time bc age rclone pgcopydb
export PATH="$PGBIN:$PATH"
swift build -c release --product pgkeep >/dev/null
pgkeep=$(swift build -c release --show-bin-path)/pgkeep

work=$(mktemp -d /tmp/pgkeep-bench.XXXXXX)
trap 'stop_everything; [ "$keep" = 1 ] || rm -rf "$work"' EXIT
chmod 755 "$work"
start_server "$work/server"
export PGHOST=127.0.0.1 PGPORT=$SERVER_PORT PGUSER=postgres PGPASSWORD=$SERVER_PASSWORD
age-keygen -o "$work/age-key.txt" 2>/dev/null
recipient=$(age-keygen -y "$work/age-key.txt")
# An S3 API on loopback (moto) for the cost of --remote; rclone configured by environment only.
start_moto "$work/moto.log"
export RCLONE_CONFIG=/dev/null RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other \
  RCLONE_CONFIG_BENCH_ENDPOINT=http://127.0.0.1:$MOTO_PORT RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=bench \
  RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=bench RCLONE_CONFIG_BENCH_REGION=us-east-1
unset AWS_CA_BUNDLE
rclone mkdir bench:pgkeep-bench 2>/dev/null

now() { date +%s.%N; }
has() { [[ " $parts " == *" $1 "* ]]; }
ratio() { echo "scale=3; $1 / $2" | bc; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

for size in $sizes; do
  db="bench_$size"
  echo "== size $size: creating $db (pgbench scale $size + $((60000 * size)) rows of md5 text and jsonb)"
  createdb "$db"
  pgbench -q -i -s "$size" "$db" >/dev/null 2>&1
  psql -q -d "$db" -v ON_ERROR_STOP=1 -c "
    CREATE TABLE docs (id bigint PRIMARY KEY, body text, meta jsonb);
    INSERT INTO docs SELECT g, md5(g::text) || md5((g * 7)::text),
      jsonb_build_object('id', g, 'hash', md5((g * 3)::text), 'n', g % 1000, 'tags', jsonb_build_array(g % 7, g % 11))
    FROM generate_series(1, 60000 * $size) g;" -c "VACUUM ANALYZE" >/dev/null
  echo "   on disk: $(psql -Atc "SELECT pg_size_pretty(pg_database_size('$db'))")"

  out="$work/out"; mkdir -p "$out"
  # Every command is timed the same way: wall time by the clock, peak RSS by GNU time (for a shell
  # pipeline: its largest process), size of what it wrote. KEY names the row.
  declare -A wall=() rss=() bytes=()
  measure() {  # measure KEY OUTPUT COMMAND...: OUTPUT is a glob of what the command writes ("" for none)
    local key=$1 output=$2 t0 t1 r; shift 2
    t0=$(now); /usr/bin/time -f %M -o "$out/rss.txt" "$@" > /dev/null; t1=$(now)
    wall[$key]+="$(echo "$t1 - $t0" | bc) "
    r=$(tail -n 1 "$out/rss.txt"); [ "$r" -gt "${rss[$key]:-0}" ] && rss[$key]=$r
    if [ -n "$output" ]; then bytes[$key]=$(stat -c %s $output); rm -rf $output "$out/pk"; fi
  }
  if has backup; then
  # pg_dump 16's own zstd (the pgserver wheel's client, when this build has zstd).
  pg16zstd=""
  if ensure_pg16 2>/dev/null && "$PG16_BIN/pg_dump" -Fc --compress=zstd:3 -d "$db" -t pgbench_branches -f /dev/null 2>/dev/null
  then pg16zstd=$PG16_BIN/pg_dump
  else echo "   (pg_dump -Fc --compress=zstd:3: no PostgreSQL 16 client with zstd here; that row is left out)"
  fi
  for i in $(seq 1 "$runs"); do
    measure floor "$out/floor.sql" sh -c "pg_dump -Fp -d '$db' > '$out/floor.sql'"
    measure fc "$out/stock.dump" pg_dump -Fc -d "$db" -f "$out/stock.dump"
    measure pk "$out/pk/$db/*.dump.gz" "$pgkeep" backup -q -d "$db" --dir "$out/pk"
    measure pkgz4 "$out/pk/$db/*.dump.gz" "$pgkeep" backup -q -d "$db" --dir "$out/pk" --compress gzip:4
    measure gzip "$out/gzip.sql.gz" sh -c "pg_dump -Fp -d '$db' | gzip -6 > '$out/gzip.sql.gz'"
    measure pigz "$out/pigz.sql.gz" sh -c "pg_dump -Fp -d '$db' | pigz -6 -p 2 > '$out/pigz.sql.gz'"
    measure pkplain "$out/pk/$db/*.sql.gz" "$pgkeep" backup -q -d "$db" --dir "$out/pk" --format plain
    measure zstdpipe "$out/z.dump.zst" sh -c "pg_dump -Fc -Z0 -d '$db' | zstd -q -T2 -3 > '$out/z.dump.zst'"
    [ -z "$pg16zstd" ] || measure fc16zstd "$out/z16.dump" "$pg16zstd" -Fc --compress=zstd:3 -d "$db" -f "$out/z16.dump"
    measure pkzstd "$out/pk/$db/*.dump.zst" "$pgkeep" backup -q -d "$db" --dir "$out/pk" --compress zstd
    measure zstdplainpipe "$out/z.sql.zst" sh -c "pg_dump -Fp -d '$db' | zstd -q -T2 -3 > '$out/z.sql.zst'"
    measure pkzstdplain "$out/pk/$db/*.sql.zst" "$pgkeep" backup -q -d "$db" --dir "$out/pk" --format plain --compress zstd
    # The default backup encrypted with age (issue 6: encryption adds at most 10%).
    measure pkenc "$out/pk/$db/*.dump.gz.age" "$pgkeep" backup -q -d "$db" --dir "$out/pk" --encrypt-to "$recipient"
    # The default backup with its upload to S3 (moto on loopback) and the remote check.
    measure pkremote "$out/pk/$db/*.dump.gz" "$pgkeep" backup -q -d "$db" --dir "$out/pk" --remote "bench:pgkeep-bench/run$i"
    echo "   backup run $i done"
  done
  fi  # backup

  # --fingerprint against the same backup without it (goal: at most 1.3x).
  if has fingerprint; then
  for i in $(seq 1 "$runs"); do
    measure fp_base "$out/pk/$db/*.dump.gz" "$pgkeep" backup -q -d "$db" --dir "$out/pk"
    measure fp_on "$out/pk/$db/*.dump.gz" "$pgkeep" backup -q -d "$db" --dir "$out/pk" --fingerprint
    echo "   fingerprint run $i done"
  done
  fi  # fingerprint

  # The daemon's endpoints under load while a backup runs: the default backup alone, then the same
  # backup while `pgkeep daemon --listen` serves 100 concurrent keep-alive clients (Scripts/http-load.py:
  # each GETs /, /healthz, /metrics in turn with a pause between its requests: 1 s, about 100
  # requests a second in all, then 0.1 s, about 900) on the same 2 cores. The daemon's CPU time
  # and the load generator's own are printed per run: on 2 cores the generator competes with the
  # backup too. Goal: the backup at most 1.05x its time alone.
  if has endpoints; then
  epdir="$out/ep"; rm -rf "$epdir"
  "$pgkeep" backup -q -d "$db" --dir "$epdir"
  epport=$((22000 + RANDOM % 900))
  "$pgkeep" daemon --dir "$epdir" --cron "0 3 1 1 *" --listen "127.0.0.1:$epport" > "$out/daemon.log" 2>&1 &
  eppid=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$epport/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
  for i in $(seq 1 "$runs"); do
    measure ep_alone "" "$pgkeep" backup -q -d "$db" --dir "$epdir"
    for pause in 1.0 0.1; do
      python3 Scripts/http-load.py 127.0.0.1 "$epport" 100 "$pause" 3600 / /healthz /metrics > "$out/load.txt" &
      loadpid=$!
      sleep 1.5
      before=$(ticks "$eppid")
      measure "ep_loaded_$pause" "" "$pgkeep" backup -q -d "$db" --dir "$epdir"
      after=$(ticks "$eppid")
      kill -TERM "$loadpid"; wait "$loadpid" || true
      echo "   endpoints run $i, pause $pause s: the daemon used $(echo "scale=2; ($after - $before) / $(getconf CLK_TCK)" | bc) s of CPU during the backup; load: $(cat "$out/load.txt")"
    done
    # Keep the first backup only: the daemon's directory stays small and equal between runs.
    ls -t "$epdir/$db"/*.dump.gz | head -n -1 | while read -r f; do rm -f "$f" "$f.manifest.json"; done
  done
  kill -TERM "$eppid"; wait "$eppid" || true
  rm -rf "$epdir"
  fi  # endpoints

  # recover of the 60,000 x size-row docs table (1.2 M rows at size 20) against restore --table of it
  # into a new database (goal: at most 1.5x). recover loads the backup's rows into a scratch schema
  # of the live database and compares them with the live table; nothing is applied here.
  if has recover; then
  "$pgkeep" backup -q -d "$db" --dir "$out/rc"
  rcfile=$(ls "$out/rc/$db"/*.dump.gz)
  for i in $(seq 1 "$runs"); do
    dropdb --if-exists recover_target 2>/dev/null; createdb recover_target
    measure rc_table "" "$pgkeep" restore -q "$rcfile" -d recover_target --table docs
    measure rc_recover "" "$pgkeep" recover -q "$rcfile" -d "$db" --table docs
    echo "   recover run $i done"
  done
  dropdb --if-exists recover_target 2>/dev/null
  rm -rf "$out/rc"
  fi  # recover

  # Restores, each into a fresh database: pgkeep against the stock commands doing the same work
  # (one transaction, stop at the first error). pgkeep's figures include its checks: the sha256 of
  # the file, the target's tables before, and the row counts it prints after.
  if has restore || [ "$profile" = 1 ]; then
  rdir="$out/rk"; rm -rf "$rdir"
  "$pgkeep" backup -q -d "$db" --dir "$rdir"
  "$pgkeep" backup -q -d "$db" --dir "$rdir" --format plain
  "$pgkeep" backup -q -d "$db" --dir "$rdir" --compress zstd
  "$pgkeep" backup -q -d "$db" --dir "$rdir" --format plain --compress zstd
  custom=$(ls "$rdir/$db"/*.dump.gz); plain=$(ls "$rdir/$db"/*.sql.gz)
  zcustom=$(ls "$rdir/$db"/*.dump.zst); zplain=$(ls "$rdir/$db"/*.sql.zst)
  fresh() { dropdb --if-exists restore_target 2>/dev/null; createdb restore_target; }
  single="--exit-on-error --single-transaction -d restore_target"
  psqlsingle="psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d restore_target"
  fi
  if has restore; then
  restores() {  # restores Z DECOMPRESS PLAIN CUSTOM: pgkeep against the stock pipeline, each restore kind
    local z=$1 dc=$2 p=$3 c=$4
    fresh; measure "r_pk${z}plain" "" "$pgkeep" restore -q "$p" -d restore_target
    fresh; measure "r_${z}plain" "" sh -c "$dc '$p' | $psqlsingle"
    fresh; measure "r_pk${z}custom" "" "$pgkeep" restore -q "$c" -d restore_target
    fresh; measure "r_${z}custom" "" sh -c "$dc '$c' | pg_restore $single"
    fresh; measure "r_pk${z}jobs" "" "$pgkeep" restore -q "$c" -d restore_target --jobs 2
    fresh; measure "r_${z}jobs" "" sh -c "$dc '$c' > '$out/fair.dump' && pg_restore --exit-on-error -j 2 -d restore_target '$out/fair.dump'"
  }
  for i in $(seq 1 "$runs"); do
    restores "" "gunzip -c" "$plain" "$custom"
    restores z "zstd -q -dc" "$zplain" "$zcustom"
    # verify: sha256 against the manifest, then every data block read; stock: the same two reads.
    measure v_pk "" "$pgkeep" verify -q "$custom"
    measure v_stock "" sh -c "sha256sum '$custom' > /dev/null && gunzip -c '$custom' | pg_restore -f /dev/null"
    echo "   restore run $i done"
  done
  dropdb --if-exists restore_target 2>/dev/null
  rm -f "$out/fair.dump"
  fi  # restore

  # The table: one row per command, its rival (the stock pipeline doing the same job) and the goal.
  med() { echo "${wall[$1]}" | tr ' ' '\n' | grep -v '^$' | median; }
  row() {  # row KEY LABEL [RIVAL GOAL [SIZEGOAL]]
    local key=$1 label=$2 rival=${3:-} goal=${4:-} sgoal=${5:-} m ratio="" sratio="" size="" goals=""
    [ -n "${wall[$key]:-}" ] || return 0
    m=$(med "$key")
    [ -n "${bytes[$key]:-}" ] && size=$(echo "scale=1; ${bytes[$key]} / 1000000" | bc)
    if [ -n "$rival" ] && [ -n "${wall[$rival]:-}" ]; then
      ratio=$(printf '%.2f' "$(echo "scale=3; $m / $(med "$rival")" | bc)")
      goals="vs $rival${goal:+ [<= $goal]}"
      if [ -n "$sgoal" ]; then
        sratio=$(printf '%.2f' "$(echo "scale=3; ${bytes[$key]} / ${bytes[$rival]}" | bc)")
        goals="$goals; size x$sratio [<= $sgoal]"
      fi
    fi
    printf '   %-14s %-48s %7.2f %6s %8s %6s  %s\n' "$key" "$label" "$m" "${ratio:--}" "${size:--}" \
      "$(( ${rss[$key]:-0} / 1024 ))" "$goals"
  }
  echo "   median of $runs runs; ratio = median / the rival's median; size in MB; RSS = peak MB"
  printf '   %-14s %-48s %7s %6s %8s %6s  %s\n' key command seconds ratio size RSS "rival [goal]"
  row floor "pg_dump -Fp > file (the floor)"
  row fc "pg_dump -Fc -f"
  row pk "pgkeep backup (custom, gzip -6)" fc 0.50 1.02
  row pkgz4 "pgkeep backup --compress gzip:4" fc 0.70 1.02
  row gzip "pg_dump -Fp | gzip -6"
  row pigz "pg_dump -Fp | pigz -6 -p 2"
  row pkplain "pgkeep backup --format plain" pigz 0.80
  row zstdpipe "pg_dump -Fc -Z0 | zstd -T2 -3"
  row fc16zstd "pg_dump (16) -Fc --compress=zstd:3"
  row pkzstd "pgkeep backup --compress zstd" fc 0.40 0.90
  row pkzstd "  (the same, against the zstd pipe)" zstdpipe 1.0
  [ -z "${wall[fc16zstd]:-}" ] || row pkzstd "  (the same, against pg_dump 16's zstd)" fc16zstd 1.0
  row zstdplainpipe "pg_dump -Fp | zstd -T2 -3"
  row pkzstdplain "pgkeep backup --format plain --compress zstd" zstdplainpipe 1.0
  row pkenc "pgkeep backup --encrypt-to (age)" pk 1.10
  row pkremote "pgkeep backup --remote (moto S3 on loopback)" pk
  row ep_alone "pgkeep backup (beside an idle daemon)"
  row ep_loaded_1.0 "  the same, 100 clients, ~100 requests/s" ep_alone 1.05
  row ep_loaded_0.1 "  the same, 100 clients, ~900 requests/s" ep_alone 1.05
  row r_plain "gunzip -c X.sql.gz | psql --single-transaction"
  row r_pkplain "pgkeep restore X.sql.gz" r_plain 0.95
  row r_custom "gunzip -c X.dump.gz | pg_restore --single-tr."
  row r_pkcustom "pgkeep restore X.dump.gz" r_custom 0.95
  row r_jobs "gunzip -c X > a && pg_restore -j 2 a"
  row r_pkjobs "pgkeep restore X.dump.gz --jobs 2" r_jobs 0.95
  row r_zplain "zstd -dc X.sql.zst | psql --single-transaction"
  row r_pkzplain "pgkeep restore X.sql.zst" r_zplain 0.95
  row r_zcustom "zstd -dc X.dump.zst | pg_restore --single-tr."
  row r_pkzcustom "pgkeep restore X.dump.zst" r_zcustom 0.95
  row r_zjobs "zstd -dc X > a && pg_restore -j 2 a"
  row r_pkzjobs "pgkeep restore X.dump.zst --jobs 2" r_zjobs 0.95
  row v_stock "sha256sum; gunzip -c | pg_restore -f /dev/null"
  row v_pk "pgkeep verify X.dump.gz" v_stock
  row fp_base "pgkeep backup (beside --fingerprint)"
  row fp_on "pgkeep backup --fingerprint" fp_base 1.30
  row rc_table "pgkeep restore X --table docs (a new database)"
  row rc_recover "pgkeep recover X --table docs (the live one)" rc_table 1.50
  unset wall rss bytes
  if [ "$profile" = 1 ]; then
    # Where the time goes (perf record -g, one run each; the server's own processes are not children
    # and are not in these profiles): by program and library, then the hottest symbols.
    ensure_packages linux-perf
    pdir="$out/profiles"; mkdir -p "$pdir"; rm -rf "$out/pk"
    prof() {  # prof NAME COMMAND...
      local name=$1; shift
      dropdb --if-exists restore_target 2>/dev/null; createdb restore_target
      perf record -q -g -o "$pdir/$name.data" -- "$@" > /dev/null 2>&1 || true
      echo "   profile $name ($pdir/$name.data):"
      perf report -i "$pdir/$name.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null \
        | grep '%' | head -6 | sed 's/^/     /'
    }
    prof backup-default "$pgkeep" backup -q -d "$db" --dir "$out/pk"
    prof backup-plain "$pgkeep" backup -q -d "$db" --dir "$out/pk" --format plain
    prof backup-zstd "$pgkeep" backup -q -d "$db" --dir "$out/pk" --compress zstd
    prof restore-plain "$pgkeep" restore -q "$plain" -d restore_target
    prof restore-jobs "$pgkeep" restore -q "$custom" -d restore_target --jobs 2
    dropdb --if-exists restore_target 2>/dev/null
  fi

  if has copy; then
  # Copies (issue 11), each into a fresh database on the same server: the stock pipe, pgcopydb
  # (Debian's 0.10, as its docs suggest for two cores), pgkeep copy without and with validation.
  declare -A ct=()
  rss_copy=0
  ctimed() {  # ctimed KEY COMMAND...: time COMMAND copying $db into a fresh "copy_target"
    local key=$1 t0 t1; shift
    dropdb --if-exists copy_target 2>/dev/null
    t0=$(now); "$@" > /dev/null 2>"$out/copy.err" || { cat "$out/copy.err" >&2; exit 1; }; t1=$(now)
    ct[${key}_]+="$(echo "$t1 - $t0" | bc) "
  }
  uri="postgresql://postgres@127.0.0.1:$SERVER_PORT"
  for i in $(seq 1 "$runs"); do
    ctimed stock sh -c "createdb copy_target && pg_dump -Fc -d '$db' | pg_restore --exit-on-error -d copy_target"
    rm -rf "$out/pgcopydb"
    ctimed pgcopydb sh -c "createdb copy_target && pgcopydb clone --source '$uri/$db' --target '$uri/copy_target' \
      --table-jobs 2 --index-jobs 2 --dir '$out/pgcopydb'"
    ctimed pknoverify "$pgkeep" copy -q --from "$uri/$db" --to "$uri/copy_target" --jobs 2 --no-verify
    ctimed pkcopy /usr/bin/time -v -o "$out/time.txt" "$pgkeep" copy -q --from "$uri/$db" --to "$uri/copy_target" --jobs 2
    r=$(awk -F': ' '/Maximum resident/ {print $2}' "$out/time.txt"); [ "$r" -gt "$rss_copy" ] && rss_copy=$r
    echo "   copy run $i done"
  done
  dropdb --if-exists copy_target 2>/dev/null
  cmed() { echo "${ct[$1_]}" | tr ' ' '\n' | grep -v '^$' | median; }
  a=$(cmed stock); b=$(cmed pgcopydb); c=$(cmed pknoverify); d=$(cmed pkcopy)
  printf '   %-52s %8s\n' "copy into a fresh database (median of $runs)" "seconds"
  printf '   %-52s %8.2f\n' "pg_dump -Fc | pg_restore -d (stock pipe)" "$a" \
    "pgcopydb clone --table-jobs 2 --index-jobs 2" "$b" "pgkeep copy --jobs 2 --no-verify" "$c" \
    "pgkeep copy --jobs 2 (validated)" "$d"
  echo "   copy ratios (goal in brackets):"
  echo "     no-verify / stock pipe      $(ratio "$c" "$a")  [<= 0.8]"
  echo "     no-verify / pgcopydb        $(ratio "$c" "$b")  [<= 1.0]"
  echo "     validated / stock pipe      $(ratio "$d" "$a")  [<= 1.0]"
  echo "   pgkeep copy peak RSS: $((rss_copy / 1024)) MB  [< 64 MB]"
  unset ct
  fi  # copy
  if has compose; then
  # Compose against the host (issue 20: within 1.15x): one PostgreSQL server in a compose service of a
  # Docker Engine of the bench's own, on the host's network (a loopback port), holding the same
  # database; pgkeep on the host reaches it over TCP, and through the service with --docker-compose
  # (pg_dump, pg_restore and psql run in the container). The difference is what compose costs.
  . Scripts/docker-engine.sh
  if [ -z "${DOCKER_ENGINE_DIR:-}" ]; then
    start_docker_engine "$work/docker"
    pgimage=$(ensure_pg_image pgkeep-test-postgres15 "$PGBIN")
  fi
  cport=$((SERVER_PORT + 2)); cdir="$work/compose-$size"; mkdir -p "$cdir"
  cat > "$cdir/docker-compose.yml" <<YML
version: "2.4"
services:
  db:
    image: $pgimage
    network_mode: host
    stop_signal: SIGINT
    environment: {POSTGRES_PASSWORD: "$SERVER_PASSWORD", PGPORT: "$cport"}
    command: [postgres, -c, "listen_addresses=127.0.0.1", -p, "$cport", -c, fsync=off, -c, synchronous_commit=off,
      -c, full_page_writes=off, -c, max_wal_size=2GB, -c, shared_buffers=256MB]
YML
  dc=(docker-compose --project-directory "$cdir" -f "$cdir/docker-compose.yml")
  "${dc[@]}" up -d >/dev/null 2>&1
  for _ in $(seq 1 100); do pg_isready -q -h 127.0.0.1 -p "$cport" && break; sleep 0.2; done
  pg_dump -Fc -d "$db" | pg_restore -p "$cport" --create -d postgres
  compose=(--docker-compose db --compose-command docker-compose --project-directory "$cdir" --compose-file "$cdir/docker-compose.yml")
  "$pgkeep" backup -q -p "$cport" -d "$db" --dir "$out/ck"
  cfile=$(ls "$out/ck/$db"/*.dump.gz)
  declare -A wall=() rss=() bytes=()
  for i in $(seq 1 "$runs"); do
    measure c_host "$out/pk/$db/*.dump.gz" "$pgkeep" backup -q -p "$cport" -d "$db" --dir "$out/pk"
    measure c_compose "$out/pk/$db/*.dump.gz" "$pgkeep" backup -q "${compose[@]}" -d "$db" --dir "$out/pk"
    dropdb -p "$cport" --if-exists restore_target; createdb -p "$cport" restore_target
    measure c_rhost "" "$pgkeep" restore -q "$cfile" -p "$cport" -d restore_target
    dropdb -p "$cport" --if-exists restore_target; createdb -p "$cport" restore_target
    measure c_rcompose "" "$pgkeep" restore -q "$cfile" "${compose[@]}" -d restore_target
    echo "   compose run $i done"
  done
  cm() { echo "${wall[$1]}" | tr ' ' '\n' | grep -v '^$' | median; }
  printf '   %-56s %8s\n' "compose against the host, one server (median of $runs)" "seconds"
  printf '   %-56s %8.2f\n' "pgkeep backup -h (host pg_dump over TCP)" "$(cm c_host)" \
    "pgkeep backup --docker-compose db (pg_dump in the service)" "$(cm c_compose)" \
    "pgkeep restore -h (host pg_restore over TCP)" "$(cm c_rhost)" \
    "pgkeep restore --docker-compose db (pg_restore in it)" "$(cm c_rcompose)"
  echo "   compose ratios (goal in brackets):"
  echo "     backup compose / host       $(ratio "$(cm c_compose)" "$(cm c_host)")  [<= 1.15]"
  echo "     restore compose / host      $(ratio "$(cm c_rcompose)" "$(cm c_rhost)")  [<= 1.15]"
  "${dc[@]}" down -v >/dev/null 2>&1
  rm -rf "$out/ck" "$out/pk"
  unset wall rss bytes
  fi  # compose
  dropdb "$db"
done

# list and prune on large generated directories.
has history || history=""
for n in $history; do
  hdir="$work/history-$n"
  python3 - "$hdir" "$n" <<'PY'
import json, os, sys, datetime
root, n = sys.argv[1], int(sys.argv[2])
per = n // 10
end = datetime.datetime(2026, 4, 2, 2, 0, 0, tzinfo=datetime.timezone.utc)
for d in range(10):
    db = f"db{d}"
    folder = os.path.join(root, db)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for i in range(per):
        t = end - datetime.timedelta(hours=i)
        name = f"{db}_{t.strftime('%Y-%m-%dT%H%M%SZ')}.dump.gz"
        open(os.path.join(folder, name), "wb").close()
        m = {"compression": {"algorithm": "gzip", "applied_by": "pgkeep", "level": 6}, "database": db,
             "duration_seconds": 1.5, "file": name, "finished_at": t.strftime('%Y-%m-%dT%H:%M:%SZ'), "format": "custom",
             "manifest_version": 1, "pg_dump_options": ["--format=custom", "--compress=0"], "pg_dump_version": "15.18",
             "pgkeep_version": "0.1.0", "pinned": i % 997 == 0, "server_version": "15.18", "server_version_num": 150018,
             "sha256": "0" * 64, "size": 123456, "source": f"postgresql://u@h/{db}", "started_at": t.strftime('%Y-%m-%dT%H:%M:%SZ'),
             "tool": "pgkeep", "uncompressed_size": 999999,
             "verification": {"gzip_complete": True, "pg_restore_list": True, "sha256_reread": True, "toc_entries": 200,
                              "verified_at": t.strftime('%Y-%m-%dT%H:%M:%SZ')}}
        with open(os.path.join(folder, name + ".manifest.json"), "w") as f:
            json.dump(m, f, indent=2, sort_keys=True)
PY
  sync
  # The first listing reads every manifest and writes the catalog cache (DIR/.pgkeep-catalog.*,
  # once each folder is two seconds unchanged); the warm ones read the cache; the cold one reads it
  # after the kernel's page cache is dropped (where /proc/sys/vm/drop_caches is writable).
  sleep 2.5
  t0=$(now); "$pgkeep" list --dir "$hdir" --json > /dev/null; t1=$(now); first=$(echo "$t1 - $t0" | bc)
  lt=(); pt=(); st=(); peak=0
  for i in 1 2 3; do
    t0=$(now); /usr/bin/time -f %M -o "$work/rss.txt" "$pgkeep" list --dir "$hdir" --json > /dev/null; t1=$(now)
    lt+=("$(echo "$t1 - $t0" | bc)"); r=$(tail -n 1 "$work/rss.txt"); [ "$r" -gt "$peak" ] && peak=$r
    t0=$(now); /usr/bin/time -f %M -o "$work/rss.txt" "$pgkeep" prune --dir "$hdir" --dry-run --json > /dev/null; t1=$(now)
    pt+=("$(echo "$t1 - $t0" | bc)"); r=$(tail -n 1 "$work/rss.txt"); [ "$r" -gt "$peak" ] && peak=$r
    t0=$(now); /usr/bin/time -f %M -o "$work/rss.txt" "$pgkeep" status --dir "$hdir" --max-age 100000d --json > /dev/null 2>&1; t1=$(now)
    st+=("$(echo "$t1 - $t0" | bc)"); r=$(tail -n 1 "$work/rss.txt"); [ "$r" -gt "$peak" ] && peak=$r
  done
  cold="n/a (drop_caches not writable)"
  if sync && echo 3 2>/dev/null > /proc/sys/vm/drop_caches; then
    t0=$(now); "$pgkeep" list --dir "$hdir" --json > /dev/null; t1=$(now); cold="$(echo "$t1 - $t0" | bc) s"
  fi
  printf '== %s backups: without the cache list %.2f s; warm list %.2f s, prune --dry-run %.2f s, status %.2f s (median of 3); cold list %s; peak RSS %d MB [goal at 100,000: <= 0.4 s warm, <= 1.2 s cold, < 64 MB]\n' "$n" \
    "$first" "$(printf '%s\n' "${lt[@]}" | median)" "$(printf '%s\n' "${pt[@]}" | median)" "$(printf '%s\n' "${st[@]}" | median)" \
    "$cold" "$((peak / 1024))"
  rm -rf "$hdir"
done

# A fleet: 40 databases of mixed sizes on two servers (per server 2 of 500,000 rows, 6 of 100,000,
# 12 of 10,000), one config with two [[server]] tables, `run --parallel 1, 2, 4`; then list and
# prune --dry-run over 1,000 databases' folders. Goals: --parallel 4 at most 0.6 of --parallel 1,
# pgkeep's peak RSS under 128 MB; 1,000 databases listed and planned in under 1 s.
if has fleet; then
  port2=$((21000 + RANDOM % 900)); [ "$port2" != "$SERVER_PORT" ] || port2=$((port2 + 1))
  Scripts/pg-server.sh start "$work/server2" "$port2" "$SERVER_PASSWORD"
  trap 'Scripts/pg-server.sh stop "$work/server2" || true; stop_everything; [ "$keep" = 1 ] || rm -rf "$work"' EXIT
  for port in "$SERVER_PORT" "$port2"; do
    for i in $(seq 1 20); do
      rows=10000; [ "$i" -le 8 ] && rows=100000; [ "$i" -le 2 ] && rows=500000
      createdb -p "$port" "fleet_$i"
      psql -q -p "$port" -d "fleet_$i" -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v, g % 97 AS n FROM generate_series(1, $rows) g"
    done
  done
  printf '%s' "$SERVER_PASSWORD" > "$work/fleet.pw"; chmod 600 "$work/fleet.pw"
  cat > "$work/fleet.toml" <<TOML
[connection]
user = "postgres"
password_file = "$work/fleet.pw"
[backup]
dir = "$work/fleet"
[[server]]
name = "one"
host = "127.0.0.1"
port = $SERVER_PORT
databases = "all"
exclude = ["postgres"]
[[server]]
name = "two"
host = "127.0.0.1"
port = $port2
databases = "all"
exclude = ["postgres"]
TOML
  out="$work/out"; mkdir -p "$out"
  declare -A fw=() fr=()
  for i in $(seq 1 "$runs"); do
    for p in 1 2 4; do
      rm -rf "$work/fleet"
      t0=$(now)
      env -u PGHOST -u PGPORT -u PGUSER -u PGPASSWORD /usr/bin/time -f %M -o "$out/rss.txt" \
        "$pgkeep" run -q --config "$work/fleet.toml" --parallel "$p"
      t1=$(now)
      fw[$p]+="$(echo "$t1 - $t0" | bc) "
      r=$(tail -n 1 "$out/rss.txt"); [ "$r" -gt "${fr[$p]:-0}" ] && fr[$p]=$r
    done
    echo "   fleet run $i done"
  done
  fm() { echo "${fw[$1]}" | tr ' ' '\n' | grep -v '^$' | median; }
  echo "== fleet: 40 databases on two servers, pgkeep run (median of $runs)"
  for p in 1 2 4; do
    printf '   --parallel %s  %6.2f s  ratio to 1: %s  peak RSS %s MB\n' "$p" "$(fm "$p")" \
      "$(ratio "$(fm "$p")" "$(fm 1)")" "$((${fr[$p]} / 1024))"
  done
  echo "   goals: --parallel 4 / --parallel 1 <= 0.6; peak RSS < 128 MB"
  # 1,000 databases' folders, 5 backups each (manifests as pgkeep writes them).
  python3 - "$work/thousand" <<'PY'
import json, os, sys, datetime
root = sys.argv[1]
end = datetime.datetime(2026, 4, 2, 2, 0, 0, tzinfo=datetime.timezone.utc)
for d in range(1000):
    db = f"db{d:04d}"
    folder = os.path.join(root, db)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for i in range(5):
        t = end - datetime.timedelta(days=i)
        name = f"{db}_{t.strftime('%Y-%m-%dT%H%M%SZ')}.dump.gz"
        open(os.path.join(folder, name), "wb").close()
        stamp = t.strftime('%Y-%m-%dT%H:%M:%SZ')
        m = {"compression": {"algorithm": "gzip", "applied_by": "pgkeep", "level": 6}, "database": db,
             "duration_seconds": 1.5, "file": name, "finished_at": stamp, "format": "custom", "manifest_version": 1,
             "pg_dump_options": ["--format=custom", "--compress=0"], "pg_dump_version": "15.18", "pgkeep_version": "0.1.0",
             "pinned": False, "server_version": "15.18", "server_version_num": 150018, "sha256": "0" * 64, "size": 1234,
             "source": f"postgresql://u@h/{db}", "started_at": stamp, "tool": "pgkeep", "uncompressed_size": 9999,
             "verification": {"gzip_complete": True, "pg_restore_list": True, "sha256_reread": True, "toc_entries": 20,
                              "verified_at": stamp}}
        with open(os.path.join(folder, name + ".manifest.json"), "w") as f:
            json.dump(m, f, indent=2, sort_keys=True)
PY
  sync
  lt=(); pt=()
  for i in 1 2 3; do
    t0=$(now); "$pgkeep" list --dir "$work/thousand" --json > /dev/null; t1=$(now); lt+=("$(echo "$t1 - $t0" | bc)")
    t0=$(now); "$pgkeep" prune --dir "$work/thousand" --dry-run --json > /dev/null; t1=$(now); pt+=("$(echo "$t1 - $t0" | bc)")
  done
  printf '== 1,000 databases (5,000 backups): list %.2f s, prune --dry-run %.2f s (median of 3) [goal < 1 s]\n' \
    "$(printf '%s\n' "${lt[@]}" | median)" "$(printf '%s\n' "${pt[@]}" | median)"
fi

