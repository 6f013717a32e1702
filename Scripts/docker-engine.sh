#!/usr/bin/env bash
# A Docker Engine of the test suite's own, with no systemd and no registry: dockerd started by hand
# (its own data root, exec root, pidfile and unix socket under DIR; no iptables, no default bridge;
# overlay2, vfs where overlay is missing), and PostgreSQL images made here by `docker import` of the
# host's own PostgreSQL files (a rootfs tar cached under PGKEEP_IMAGE_CACHE by a content key).
#
#   Scripts/docker-engine.sh start DIR   starts dockerd, builds the images, prints the variables to export
#   Scripts/docker-engine.sh stop DIR    removes every container, stops dockerd, deletes DIR
#
# Sourced (test.sh, bench.sh): start_docker_engine DIR, stop_docker_engine, ensure_pg_image TAG ROOT.
# Run as root.

_docker_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# start_docker_engine DIR: installs docker.io and docker-compose when missing, starts dockerd and
# waits until it answers; exports DOCKER_HOST (and DOCKER_ENGINE_DIR, DOCKER_ENGINE_PID).
start_docker_engine() {
  local dir=$1 driver=overlay2 missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
  grep -qw overlay /proc/filesystems || driver=vfs
  mkdir -p "$dir"
  chmod 700 "$dir"
  DOCKER_ENGINE_DIR=$dir
  # The socket's path must stay under the 108 bytes of sun_path.
  dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
    -H "unix://$dir/docker.sock" --iptables=false --ip-masq=false --bridge=none \
    --storage-driver "$driver" >"$dir/dockerd.log" 2>&1 &
  DOCKER_ENGINE_PID=$!
  export DOCKER_HOST="unix://$dir/docker.sock" DOCKER_ENGINE_DIR DOCKER_ENGINE_PID
  for _ in $(seq 1 300); do
    if docker version >/dev/null 2>&1; then
      echo "docker engine ($driver) ready on $DOCKER_HOST" >&2
      return 0
    fi
    kill -0 "$DOCKER_ENGINE_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "dockerd did not start:" >&2
  tail -n 20 "$dir/dockerd.log" >&2
  return 1
}

# stop_docker_engine: every container removed, dockerd stopped (its containerd with it), what it
# mounted unmounted, its directory deleted.
stop_docker_engine() {
  local dir=${DOCKER_ENGINE_DIR:-}
  [ -n "$dir" ] || return 0
  if [ -n "${DOCKER_ENGINE_PID:-}" ] && kill -0 "$DOCKER_ENGINE_PID" 2>/dev/null; then
    local ids
    ids=$(docker ps -aq 2>/dev/null || true)
    [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1 || true
    kill -TERM "$DOCKER_ENGINE_PID" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$DOCKER_ENGINE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DOCKER_ENGINE_PID" 2>/dev/null || true
    wait "$DOCKER_ENGINE_PID" 2>/dev/null || true
  fi
  # Mounts the engine left (overlay layers, shm, netns), deepest first.
  awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$dir"
  DOCKER_ENGINE_DIR=
}

# ensure_pg_image TAG BIN: a PostgreSQL image named TAG from the server and client whose binaries
# are in BIN (the host's /usr/lib/postgresql/15/bin, or the PyPI build of 16), imported from a
# rootfs tar that is rebuilt only when its content key (the files' package versions or sizes and
# dates, this script and the entrypoint) changes. Prints the image's name (TAG:KEY).
ensure_pg_image() {
  local tag=$1 bin=$2 cache=${PGKEEP_IMAGE_CACHE:-/var/cache/pgkeep-images}
  local root
  root=$(cd "$bin/.." && pwd)
  local key
  key=$( {
    cat "$_docker_here/docker-engine.sh" "$_docker_here/docker-entrypoint-pg.sh"
    find "$root" -type f -printf '%P %s %T@\n' | sort
    dpkg-query -W -f '${Package} ${Version}\n' libc6 coreutils dash util-linux tzdata libpq5 2>/dev/null
  } | sha256sum | cut -c1-16)
  local name=$tag:$key
  if ! docker image inspect "$name" >/dev/null 2>&1; then
    mkdir -p "$cache"
    chmod 700 "$cache"
    local tar=$cache/$tag-$key.tar
    if [ ! -s "$tar" ]; then
      _pg_rootfs_tar "$root" "$tar.part" || { echo "could not build the rootfs of $name" >&2; return 1; }
      mv -f "$tar.part" "$tar"
    fi
    # The official image's shape: PATH to the server's binaries, PGDATA. (Its STOPSIGNAL SIGINT
    # cannot be given to docker import: a compose file says stop_signal: SIGINT.)
    docker import -c "ENV PATH=$bin:/usr/local/bin:/usr/bin:/bin" -c "ENV PGDATA=/var/lib/postgresql/data" \
      -c "ENV LANG=C.UTF-8" -c 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
      -c 'CMD ["postgres"]' "$tar" "$name" >/dev/null || return 1
    # Old keys' tars go: the cache holds one per tag.
    find "$cache" -maxdepth 1 -name "$tag-*.tar" ! -name "$tag-$key.tar" -delete
  fi
  echo "$name"
}

# _pg_rootfs_tar ROOT OUT: ROOT (the PostgreSQL installation) with a shell, coreutils, setpriv,
# the shared libraries they load, C.UTF-8, zoneinfo, passwd/group with postgres (999) and the
# entrypoint. No ps, no procps: pgkeep's cleanup in a container must not need them.
_pg_rootfs_tar() {
  local root=$1 out=$2 stage
  stage=$(mktemp -d)
  local files=()
  mapfile -t files < <(
    # Not the JIT (libLLVM alone is 100 MB): the server runs without it.
    find "$root" \( -type f -o -type l \) | grep -v -E '/include/|\.a$|llvmjit|/bitcode/'
    for p in dash coreutils; do dpkg -L "$p" | while read -r f; do [ -f "$f" ] && echo "$f"; done; done
    printf "%s\n" /usr/bin/setpriv /bin/sh
    [ -d /usr/share/postgresql/15 ] && [ "$root" = /usr/lib/postgresql/15 ] && find /usr/share/postgresql/15 -type f
    find /usr/share/zoneinfo /usr/lib/locale/C.utf8 \( -type f -o -type l \)
  )
  local libs
  libs=$(for f in "${files[@]}"; do
    case "$f" in *bin/* | *.so*) ldd "$f" 2>/dev/null | grep -o '/[^ ]*' ;; esac
  done | xargs -r realpath -s | sort -u)
  local all=()
  for f in "${files[@]}" $libs; do
    all+=("$f")
    # A library named through a symbolic link is needed under both names.
    [ -L "$f" ] && all+=("$(readlink -f "$f")")
  done
  printf '%s\n' "${all[@]}" | sort -u | tar -C / -cf "$stage/host.tar" --no-recursion -T - 2>/dev/null
  mkdir -p "$stage/fs/etc" "$stage/fs/tmp" "$stage/fs/var/run/postgresql" "$stage/fs/var/lib/postgresql" \
    "$stage/fs/usr/local/bin" "$stage/fs/usr/bin" "$stage/fs/usr/sbin" "$stage/fs/usr/lib" "$stage/fs/usr/lib64"
  chmod 1777 "$stage/fs/tmp"
  # merged /usr, as in Debian: /bin, /sbin, /lib and /lib64 are links into /usr.
  for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/fs/$d"; done
  tar -C "$stage/fs" --keep-directory-symlink -xf "$stage/host.tar"
  printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh\n' \
    >"$stage/fs/etc/passwd"
  printf 'root:x:0:\npostgres:x:999:\n' >"$stage/fs/etc/group"
  install -m 755 "$_docker_here/docker-entrypoint-pg.sh" "$stage/fs/usr/local/bin/docker-entrypoint.sh"
  chown 999:999 "$stage/fs/var/run/postgresql" "$stage/fs/var/lib/postgresql"
  tar -C "$stage/fs" -cf "$out" .
  rm -rf "$stage"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    start)
      start_docker_engine "$2"
      echo "DOCKER_HOST=$DOCKER_HOST"
      echo "DOCKER_ENGINE_PID=$DOCKER_ENGINE_PID"
      echo "PGKEEP_TEST_PG15_IMAGE=$(ensure_pg_image pgkeep-test-postgres15 /usr/lib/postgresql/15/bin)"
      ;;
    stop)
      DOCKER_ENGINE_DIR=$2
      DOCKER_HOST="unix://$2/docker.sock"
      export DOCKER_HOST
      DOCKER_ENGINE_PID=$(cat "$2/dockerd.pid" 2>/dev/null || true)
      stop_docker_engine
      ;;
    *)
      echo "usage: $0 start|stop DIR" >&2
      exit 2
      ;;
  esac
fi
