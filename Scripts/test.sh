#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what is missing (Debian packages; PostgreSQL
# 16.2 from PyPI's pgserver wheel), starts a throwaway PostgreSQL 15 loaded with the Pagila fixture,
# a PostgreSQL 16 beside it (the copy/compare and upgrade tests) and an S3 API on loopback (moto's
# server mode, from PyPI) for the offsite tests and a Docker Engine of its own with PostgreSQL 15 and
# 16 images made here (Scripts/docker-engine.sh) for the compose tests and the pgkeep image
# (Scripts/image.sh) for the image and sidecar tests, builds, runs `swift test`, stops them all.
# Run as root (the server itself runs as the postgres user; the fault tests mount a small tmpfs).
set -euo pipefail
cd "$(dirname "$0")/.."
. Scripts/lib.sh
. Scripts/docker-engine.sh

echo "test.sh: swift format lint --strict"
# Formatting is checked first, before any server starts: a finding fails the suite (fix it with
# Scripts/format.sh).
swift format lint --strict --recursive --parallel Sources Tests Package.swift

ensure_packages age rclone strace prometheus zstd pigz msmtp chromium chromium-driver
ensure_pg16
ensure_pip_module kubernetes_validate kubernetes-validate
ensure_pip_module aiosmtpd aiosmtpd
ensure_pip_module selenium selenium
work=$(mktemp -d /tmp/pgkeep-test.XXXXXX)
trap 'stop_everything "$work"' EXIT
chmod 755 "$work"
start_server "$work/server"
start_server16 "$work/server16"
start_moto "$work/moto.log"
docker_started=$(date +%s)
start_docker_engine "$work/docker"
PGKEEP_TEST_PG15_IMAGE=$(ensure_pg_image pgkeep-test-postgres15 "$PGBIN")
PGKEEP_TEST_PG16_IMAGE=$(ensure_pg_image pgkeep-test-postgres16 "$PG16_BIN")
export PGKEEP_TEST_DOCKER_HOST=$DOCKER_HOST PGKEEP_TEST_PG15_IMAGE PGKEEP_TEST_PG16_IMAGE
echo "test.sh: docker engine and images ready in $(($(date +%s) - docker_started)) s ($PGKEEP_TEST_PG15_IMAGE, $PGKEEP_TEST_PG16_IMAGE)"
# The pgkeep image, from the repository's Dockerfile (Scripts/image.sh), for the image and sidecar tests.
image_started=$(date +%s)
if ! Scripts/image.sh test >"$work/image.log" 2>&1; then
  echo "test.sh: FAILED: Scripts/image.sh; its last lines:"
  tail -n 40 "$work/image.log"
  exit 1
fi
export PGKEEP_TEST_IMAGE=pgkeep:test
echo "test.sh: $(tail -n 1 "$work/image.log") (image.sh took $(($(date +%s) - image_started)) s)"
echo "test.sh: PostgreSQL ($PGBIN) on 127.0.0.1:$SERVER_PORT, 16 ($PG16_BIN) on $SERVER16_PORT; loading Pagila"
load_pagila pagila

echo "test.sh: building"
swift build
export PGKEEP_BIN="$(swift build --show-bin-path)/pgkeep"
export PGKEEP_TEST_HOST=127.0.0.1 PGKEEP_TEST_PORT=$SERVER_PORT PGKEEP_TEST_SOCKET=$SERVER_DIR
export PGKEEP_TEST_PASSWORD=$SERVER_PASSWORD PGKEEP_TEST_PG_BIN=$PGBIN PGKEEP_TEST_MOTO_PORT=$MOTO_PORT
export PGKEEP_TEST_PG16_PORT=$SERVER16_PORT PGKEEP_TEST_PG16_SOCKET=$SERVER16_DIR PGKEEP_TEST_PG16_BIN=$PG16_BIN

echo "test.sh: running swift test"
# One test at a time: some tests back up the whole cluster (--all) while others create and drop
# databases on the same server.
# The output is also kept, so that on failure the failing tests are repeated at the end, where a
# log that shows only its tail still shows them.
log="$work/swift-test.log"
status=0
swift test --no-parallel "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
  echo "test.sh: FAILED (exit $status); the failing tests:"
  grep -E -A8 "recorded an issue|error:|Fatal error|✘ Test [^r]" "$log" | head -n 200 || true
  exit "$status"
fi

# The demo README gives first, with the binary just tested, from a shell whose PG* variables
# point at another server (as many PostgreSQL users' shells do): it must not go there.
echo "test.sh: Scripts/demo.sh (PG* pointing elsewhere)"
if ! PGHOST=127.0.0.1 PGPORT=1 PGUSER=nobody PGPASSWORD=wrong PGDATABASE=elsewhere Scripts/demo.sh >"$work/demo.log" 2>&1; then
  echo "test.sh: FAILED: Scripts/demo.sh; its last lines:"
  tail -n 40 "$work/demo.log"
  exit 1
fi
tail -n 1 "$work/demo.log"
# The closing line: the tests swift test ran (Swift Testing's count), all passed.
ran=$(grep -oE "Test run with [0-9]+ tests" "$log" | tail -n 1 | grep -oE "[0-9]+" || echo 0)
echo "tests: $ran passed, 0 failed"
exit 0
