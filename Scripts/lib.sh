# Shared by test.sh, demo.sh and bench.sh: install what is missing, pick the PostgreSQL binaries,
# start a throwaway server (optionally loaded with the Pagila fixture). Source it; do not run it.

# ensure_packages: Debian packages the build and the throwaway server need.
ensure_packages() {
  local missing=()
  dpkg -s zlib1g-dev >/dev/null 2>&1 || missing+=(zlib1g-dev)
  dpkg -s libpq-dev >/dev/null 2>&1 || missing+=(libpq-dev)
  dpkg -s libzstd-dev >/dev/null 2>&1 || missing+=(libzstd-dev)
  dpkg -s libdeflate-dev >/dev/null 2>&1 || missing+=(libdeflate-dev)
  dpkg -s pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
  ls /usr/lib/postgresql/*/bin/pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
  for extra in "$@"; do dpkg -s "$extra" >/dev/null 2>&1 || missing+=("$extra"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  export PGBIN
}

# start_server DIR: a throwaway cluster on a random loopback port (below the ephemeral range,
# 32768 and up, so no client connection holds it); sets SERVER_DIR, SERVER_PORT,
# SERVER_PASSWORD. The caller's one EXIT trap (stop_everything) stops it.
start_server() {
  SERVER_DIR=$1
  SERVER_PORT=${SERVER_PORT:-$((21000 + RANDOM % 900))}
  SERVER_PASSWORD="pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  Scripts/pg-server.sh start "$SERVER_DIR" "$SERVER_PORT" "$SERVER_PASSWORD"
}

# stop_everything [WORK]: stops every server these helpers started (the PostgreSQL 15 and 16
# clusters, moto, the Docker Engine; those never started are passed over) and removes WORK. The
# scripts install it as their one EXIT trap right after mktemp, so that whatever starts later is
# covered.
stop_everything() {
  if [ -n "${SERVER_DIR:-}" ]; then Scripts/pg-server.sh stop "$SERVER_DIR" || true; fi
  stop_server16
  stop_moto
  if declare -F stop_docker_engine >/dev/null; then stop_docker_engine || true; fi
  if [ -n "${1:-}" ]; then rm -rf "$1"; fi
}

# load_pagila DB: the Pagila sample database from ../shared/fixtures, over the server's socket.
load_pagila() {
  local fixtures=${PGKEEP_FIXTURES:-../shared/fixtures}
  [ -f "$fixtures/pagila-schema.sql" ] || { echo "Pagila fixture not found in $fixtures" >&2; return 1; }
  local psql=("$PGBIN/psql" -X -q -h "$SERVER_DIR" -p "$SERVER_PORT" -U postgres)
  "${psql[@]}" -c "CREATE DATABASE $1"
  "${psql[@]}" -d "$1" -v ON_ERROR_STOP=1 -f "$fixtures/pagila-schema.sql" >/dev/null
  "${psql[@]}" -d "$1" -v ON_ERROR_STOP=1 -f "$fixtures/pagila-data.sql" >/dev/null
}

# start_moto LOG: an S3 API on a loopback port (moto's server mode, `moto[server]` from PyPI,
# installed when missing); sets MOTO_PORT and MOTO_PID.
start_moto() {
  if ! python3 -c 'import moto.server, flask' >/dev/null 2>&1; then
    echo "installing moto[server] from PyPI" >&2
    # Debian's own python3 refuses installs into the system (PEP 668); this machine is throwaway.
    python3 -m pip install -q 'moto[server]' >/dev/null 2>&1 \
      || python3 -m pip install -q --break-system-packages 'moto[server]'
  fi
  MOTO_PORT=${MOTO_PORT:-$((22000 + RANDOM % 900))}
  python3 -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$1" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $MOTO_PORT), 0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "moto_server did not start:" >&2; cat "$1" >&2; return 1
}

# ensure_pip_module MODULE PACKAGE: a PyPI package for the tests (kubernetes-validate, aiosmtpd), installed
# into the python3 on PATH when its module does not import.
ensure_pip_module() {
  python3 -c "import $1" >/dev/null 2>&1 && return 0
  echo "installing $2 from PyPI" >&2
  python3 -m pip install -q "$2" >/dev/null 2>&1 || python3 -m pip install -q --break-system-packages "$2"
}
stop_moto() { [ -n "${MOTO_PID:-}" ] && kill "$MOTO_PID" 2>/dev/null; true; }

# ensure_pg16: PostgreSQL 16.2, server and client, from PyPI's pgserver wheel (its binaries find
# their libraries relative to themselves, so the wheel is unpacked whole and kept in its layout).
# Sets PG16_BIN. Unpacked once into PGKEEP_PG16_ROOT (default /opt/pgkeep-pg16).
ensure_pg16() {
  local root=${PGKEEP_PG16_ROOT:-/opt/pgkeep-pg16}
  PG16_BIN=$root/pgserver/pginstall/bin
  if [ ! -x "$PG16_BIN/postgres" ]; then
    echo "installing PostgreSQL 16.2 from PyPI's pgserver wheel into $root" >&2
    local tmp
    tmp=$(mktemp -d)
    python3 -m pip download -q --no-deps --only-binary=:all: pgserver==0.1.4 -d "$tmp" >/dev/null
    mkdir -p "$root"
    python3 -m zipfile -e "$tmp"/pgserver-*.whl "$root"
    rm -rf "$tmp"
    chmod -R a+rX "$root"
    chmod a+x "$PG16_BIN"/*
  fi
  "$PG16_BIN/postgres" --version >/dev/null
  export PG16_BIN
}

# start_server16 DIR: a PostgreSQL 16 cluster beside the 15 one (same password); sets SERVER16_DIR
# and SERVER16_PORT. Stop it with stop_server16.
start_server16() {
  SERVER16_DIR=$1
  SERVER16_PORT=${SERVER16_PORT:-$((SERVER_PORT + 1))}
  PGKEEP_SERVER_BIN=$PG16_BIN Scripts/pg-server.sh start "$SERVER16_DIR" "$SERVER16_PORT" "$SERVER_PASSWORD"
}

stop_server16() {
  if [ -n "${SERVER16_DIR:-}" ]; then PGKEEP_SERVER_BIN=$PG16_BIN Scripts/pg-server.sh stop "$SERVER16_DIR" || true; fi
}
