#!/usr/bin/env bash
# Measures pgkeep against the stock tools, alternating runs in one session, and prints median
# wall-time ratios, output sizes and pgkeep's peak RSS.
#
#   Scripts/bench.sh [--runs N] [--sizes "20 50"] [--keep]
#
# For each size S the database is pgbench at scale S plus a table of 60000*S rows of md5 text
# and jsonb (scale 20: 1.2 million rows, about 570 MB on disk). Compared, per run, in turn:
#   pg_dump -Fp > file             (the floor: no compression)
#   pg_dump -Fc -f file            vs  pgkeep backup             (default: custom, gzip -6)
#   pg_dump -Fp | gzip -6          and pg_dump -Fp | pigz -6 -p 2   vs  pgkeep backup --format plain
#   pgkeep backup --encrypt-to (age)                                 vs  pgkeep backup
#   pgkeep backup --remote (S3 API of moto on loopback)               vs  pgkeep backup
# then restores, each into a fresh database:
#   pgkeep restore X.sql.gz        vs  gunzip -c | psql --single-transaction
#   pgkeep restore X.dump.gz       vs  gunzip -c | pg_restore --single-transaction
#   pgkeep restore --jobs 2        vs  gunzip -c X > archive && pg_restore -j 2 archive (the fair
#                                      baseline: it pays for its decompression too)
# and, on generated backup directories of 10,000 and 100,000 backups (manifests and empty data
# files: 10 databases, hourly backups), pgkeep list, pgkeep prune --dry-run and pgkeep status.
# Also pgkeep verify of the default backup against sha256sum plus gunzip | pg_restore -f /dev/null,
# and copies into a fresh database on the same server: pgkeep copy --jobs 2 (with and without its
# validation) against pg_dump -Fc | pg_restore -d and pgcopydb clone --table-jobs 2 --index-jobs 2.
# Timings are for information; no test asserts a time. --sizes "" skips the database part.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
sizes="20 50"
keep=0
history="10000 100000"
profile=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --history) history=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    *) echo "usage: bench.sh [--runs N] [--sizes \"20 50\"] [--history \"10000 100000\"] [--keep] [--profile]" >&2
       exit 2 ;;
  esac
done

. Scripts/lib.sh
ensure_packages pigz zstd time bc age rclone pgcopydb
export PATH="$PGBIN:$PATH"
swift build -c release --product pgkeep >/dev/null
pgkeep=$(swift build -c release --show-bin-path)/pgkeep

work=$(mktemp -d /tmp/pgkeep-bench.XXXXXX)
chmod 755 "$work"
start_server "$work/server"
export PGHOST=127.0.0.1 PGPORT=$SERVER_PORT PGUSER=postgres PGPASSWORD=$SERVER_PASSWORD
age-keygen -o "$work/age-key.txt" 2>/dev/null
recipient=$(age-keygen -y "$work/age-key.txt")
# An S3 API on loopback (moto) for the cost of --remote; rclone configured by environment only.
start_moto "$work/moto.log"
trap 'Scripts/pg-server.sh stop "$SERVER_DIR" || true; stop_moto; [ "$keep" = 1 ] || rm -rf "$work"' EXIT
export RCLONE_CONFIG=/dev/null RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other \
  RCLONE_CONFIG_BENCH_ENDPOINT=http://127.0.0.1:$MOTO_PORT RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=bench \
  RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=bench RCLONE_CONFIG_BENCH_REGION=us-east-1
unset AWS_CA_BUNDLE
rclone mkdir bench:pgkeep-bench 2>/dev/null

now() { date +%s.%N; }
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
  declare -A times=()
  declare -A sizes_b=()
  rss_default=0; rss_plain=0
  for i in $(seq 1 "$runs"); do
    rm -rf "$out"/*
    t0=$(now); pg_dump -Fp -d "$db" > "$out/floor.sql"; t1=$(now)
    times[floor]+="$(echo "$t1 - $t0" | bc) "; sizes_b[floor]=$(stat -c %s "$out/floor.sql"); rm -f "$out/floor.sql"

    t0=$(now); pg_dump -Fc -d "$db" -f "$out/stock.dump"; t1=$(now)
    times[fc]+="$(echo "$t1 - $t0" | bc) "; sizes_b[fc]=$(stat -c %s "$out/stock.dump"); rm -f "$out/stock.dump"

    t0=$(now); /usr/bin/time -v -o "$out/time.txt" "$pgkeep" backup -q -d "$db" --dir "$out/pk"; t1=$(now)
    times[pk]+="$(echo "$t1 - $t0" | bc) "; sizes_b[pk]=$(stat -c %s "$out"/pk/"$db"/*.dump.gz)
    r=$(awk -F': ' '/Maximum resident/ {print $2}' "$out/time.txt"); [ "$r" -gt "$rss_default" ] && rss_default=$r
    rm -rf "$out/pk"

    t0=$(now); pg_dump -Fp -d "$db" | gzip -6 > "$out/gzip.sql.gz"; t1=$(now)
    times[gzip]+="$(echo "$t1 - $t0" | bc) "; sizes_b[gzip]=$(stat -c %s "$out/gzip.sql.gz"); rm -f "$out/gzip.sql.gz"

    t0=$(now); pg_dump -Fp -d "$db" | pigz -6 -p 2 > "$out/pigz.sql.gz"; t1=$(now)
    times[pigz]+="$(echo "$t1 - $t0" | bc) "; sizes_b[pigz]=$(stat -c %s "$out/pigz.sql.gz"); rm -f "$out/pigz.sql.gz"

    t0=$(now); /usr/bin/time -v -o "$out/time.txt" "$pgkeep" backup -q -d "$db" --dir "$out/pk" --format plain; t1=$(now)
    times[pkplain]+="$(echo "$t1 - $t0" | bc) "; sizes_b[pkplain]=$(stat -c %s "$out"/pk/"$db"/*.sql.gz)
    r=$(awk -F': ' '/Maximum resident/ {print $2}' "$out/time.txt"); [ "$r" -gt "$rss_plain" ] && rss_plain=$r
    rm -rf "$out/pk"

    # The default backup encrypted with age (issue 6: encryption adds at most 10%).
    t0=$(now); "$pgkeep" backup -q -d "$db" --dir "$out/pk" --encrypt-to "$recipient"; t1=$(now)
    times[pkenc]+="$(echo "$t1 - $t0" | bc) "; sizes_b[pkenc]=$(stat -c %s "$out"/pk/"$db"/*.dump.gz.age)
    rm -rf "$out/pk"

    # The default backup with its upload to S3 (moto on loopback) and the remote check.
    t0=$(now); "$pgkeep" backup -q -d "$db" --dir "$out/pk" --remote "bench:pgkeep-bench/run$i"; t1=$(now)
    times[pkremote]+="$(echo "$t1 - $t0" | bc) "; sizes_b[pkremote]=$(stat -c %s "$out"/pk/"$db"/*.dump.gz)
    rm -rf "$out/pk"
    echo "   run $i done"
  done

  med() { echo "${times[$1]}" | tr ' ' '\n' | grep -v '^$' | median; }
  mb() { echo "scale=1; ${sizes_b[$1]} / 1000000" | bc; }
  ratio() { echo "scale=3; $1 / $2" | bc; }
  floor=$(med floor); fc=$(med fc); pk=$(med pk); gz=$(med gzip); pz=$(med pigz); pkp=$(med pkplain); pke=$(med pkenc); pkr=$(med pkremote)
  printf '   %-34s %8s %10s\n' "command (median of $runs)" "seconds" "MB"
  printf '   %-34s %8.2f %10s\n' "pg_dump -Fp > file (floor)" "$floor" "$(mb floor)"
  printf '   %-34s %8.2f %10s\n' "pg_dump -Fc -f" "$fc" "$(mb fc)"
  printf '   %-34s %8.2f %10s\n' "pgkeep backup (custom, gzip -6)" "$pk" "$(mb pk)"
  printf '   %-34s %8.2f %10s\n' "pg_dump -Fp | gzip -6" "$gz" "$(mb gzip)"
  printf '   %-34s %8.2f %10s\n' "pg_dump -Fp | pigz -6 -p 2" "$pz" "$(mb pigz)"
  printf '   %-34s %8.2f %10s\n' "pgkeep backup --format plain" "$pkp" "$(mb pkplain)"
  printf '   %-34s %8.2f %10s\n' "pgkeep backup --encrypt-to (age)" "$pke" "$(mb pkenc)"
  printf '   %-34s %8.2f %10s\n' "pgkeep backup --remote (moto S3)" "$pkr" "$(mb pkremote)"
  echo "   ratios (goal in brackets):"
  echo "     default time / pg_dump -Fc   $(ratio "$pk" "$fc")  [<= 0.75]"
  echo "     default size / pg_dump -Fc   $(ratio "${sizes_b[pk]}" "${sizes_b[fc]}")  [<= 1.05]"
  echo "     plain time / pigz -6 -p 2    $(ratio "$pkp" "$pz")  [<= 1.0]"
  echo "     plain time / gzip -6         $(ratio "$pkp" "$gz")  [well under 1]"
  echo "     encrypted / default time     $(ratio "$pke" "$pk")  [<= 1.10]"
  echo "     with upload / default time   $(ratio "$pkr" "$pk")  [for information: loopback S3]"
  echo "   pgkeep peak RSS: default $((rss_default / 1024)) MB, plain $((rss_plain / 1024)) MB  [< 64 MB]"

  # Restores: pgkeep against the stock commands doing the same work (one transaction, stop at the
  # first error). pgkeep's figures include its checks: the sha256 of the file, the target's
  # tables before, and the row counts it prints after.
  rdir="$out/rk"; rm -rf "$rdir"
  "$pgkeep" backup -q -d "$db" --dir "$rdir"
  "$pgkeep" backup -q -d "$db" --dir "$rdir" --format plain
  custom=$(ls "$rdir/$db"/*.dump.gz); plain=$(ls "$rdir/$db"/*.sql.gz)
  declare -A rt=()
  timed() {  # timed KEY COMMAND...: time COMMAND against a fresh database "restore_target"
    local key=$1 t0 t1; shift
    dropdb --if-exists restore_target 2>/dev/null; createdb restore_target
    t0=$(now); "$@" > /dev/null; t1=$(now)
    rt[${key}_]+="$(echo "$t1 - $t0" | bc) "
  }
  for i in $(seq 1 "$runs"); do
    timed pkplain "$pgkeep" restore -q "$plain" -d restore_target
    timed stockplain sh -c "gunzip -c '$plain' | psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d restore_target"
    timed pkcustom "$pgkeep" restore -q "$custom" -d restore_target
    timed stockcustom sh -c "gunzip -c '$custom' | pg_restore --exit-on-error --single-transaction -d restore_target"
    timed pkjobs "$pgkeep" restore -q "$custom" -d restore_target --jobs 2
    timed stockjobs sh -c "gunzip -c '$custom' > '$out/fair.dump' && pg_restore --exit-on-error -j 2 -d restore_target '$out/fair.dump'"
    # verify: sha256 against the manifest, then every data block read; stock: the same two reads.
    timed pkverify "$pgkeep" verify -q "$custom"
    timed stockverify sh -c "sha256sum '$custom' > /dev/null && gunzip -c '$custom' | pg_restore -f /dev/null"
    echo "   restore run $i done"
  done
  dropdb --if-exists restore_target 2>/dev/null
  rmed() { echo "${rt[$1_]}" | tr ' ' '\n' | grep -v '^$' | median; }
  a=$(rmed pkplain); b=$(rmed stockplain); c=$(rmed pkcustom); d=$(rmed stockcustom); e=$(rmed pkjobs); f=$(rmed stockjobs)
  g=$(rmed pkverify); h=$(rmed stockverify)
  printf '   %-52s %8s\n' "restore (median of $runs)" "seconds"
  printf '   %-52s %8.2f\n' "pgkeep restore plain .sql.gz" "$a" "gunzip -c | psql --single-transaction" "$b" \
    "pgkeep restore default .dump.gz" "$c" "gunzip -c | pg_restore --single-transaction" "$d" \
    "pgkeep restore .dump.gz --jobs 2 (decompresses first)" "$e" "gunzip -c > archive && pg_restore -j 2 archive" "$f" \
    "pgkeep verify .dump.gz" "$g" "sha256sum; gunzip -c | pg_restore -f /dev/null" "$h"
  echo "   restore ratios (goal in brackets):"
  echo "     plain   pgkeep / stock      $(ratio "$a" "$b")  [<= 1.03]"
  echo "     default pgkeep / stock      $(ratio "$c" "$d")  [<= 1.03]"
  echo "     --jobs 2 pgkeep / stock     $(ratio "$e" "$f")  [<= 1.0]"
  echo "     verify pgkeep / stock       $(ratio "$g" "$h")"
  unset rt
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
    prof restore-plain "$pgkeep" restore -q "$plain" -d restore_target
    prof restore-jobs "$pgkeep" restore -q "$custom" -d restore_target --jobs 2
    dropdb --if-exists restore_target 2>/dev/null
  fi

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
  dropdb "$db"
  unset times sizes_b
done

# list and prune on large generated directories.
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
  lt=(); pt=(); st=()
  for i in 1 2 3; do
    t0=$(now); "$pgkeep" list --dir "$hdir" --json > /dev/null; t1=$(now); lt+=("$(echo "$t1 - $t0" | bc)")
    t0=$(now); "$pgkeep" prune --dir "$hdir" --dry-run --json > /dev/null; t1=$(now); pt+=("$(echo "$t1 - $t0" | bc)")
    t0=$(now); "$pgkeep" status --dir "$hdir" --max-age 100000d --json > /dev/null 2>&1; t1=$(now); st+=("$(echo "$t1 - $t0" | bc)")
  done
  printf '== %s backups: list %.2f s, prune --dry-run %.2f s, status %.2f s (median of 3) [goal < 2 s at 100,000]\n' "$n" \
    "$(printf '%s\n' "${lt[@]}" | median)" "$(printf '%s\n' "${pt[@]}" | median)" "$(printf '%s\n' "${st[@]}" | median)"
  rm -rf "$hdir"
done
