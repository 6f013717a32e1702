#!/usr/bin/env bash
# Builds the repository's Dockerfile as pgkeep:TAG (default pgkeep:dev) with no registry reachable:
# its three base images are made here first and passed as build arguments.
#   - the build stage's (the official `swift` image's stand-in): Debian 12 from the Debian mirror
#     (debootstrap) with the official image's packages, this machine's Swift toolchain (/opt/swift)
#     and its copies of the Swift packages (/opt/swift-packages, git's insteadOf for github.com);
#   - the client stage's (the official `postgres` image's stand-in): Debian 12 with Debian's
#     PostgreSQL 15 and the test images' entrypoint;
#   - the runtime stage's (`debian:bookworm-slim`'s stand-in): Debian 12 minbase.
# The debootstrapped trees are cached under PGKEEP_IMAGE_CACHE by a content key. The build reaches
# the Debian mirror for the Dockerfile's apt-get through the host's network (dockerd here has no
# bridge). It runs on the engine DOCKER_HOST names; without one, it starts one
# (Scripts/docker-engine.sh) in PGKEEP_ENGINE_DIR (default /tmp/pgkeep-engine) and leaves it running.
#
#   Scripts/image.sh [TAG]
set -euo pipefail
cd "$(dirname "$0")/.."
. Scripts/docker-engine.sh
tag=${1:-dev}
cache=${PGKEEP_IMAGE_CACHE:-/var/cache/pgkeep-images}
mirror=$( (grep -h -o 'http[^ ]*debian$' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true) | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}

# debian_tree NAME PACKAGES: a Debian 12 tree (minbase plus PACKAGES, comma-separated) in the
# cache, made once per content key; prints its path.
debian_tree() {
  local name=$1 packages=$2 key dir
  key=$(printf '%s\n' "$packages" "$mirror" | sha256sum | cut -c1-16)
  dir=$cache/$name-$key
  if [ ! -f "$dir/.complete" ]; then
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    rm -rf "$dir"
    mkdir -p "$cache"
    echo "image.sh: debootstrap $name ($packages)" >&2
    debootstrap --variant=minbase ${packages:+--include="$packages"} bookworm "$dir" "$mirror" >"$cache/$name.log" 2>&1 \
      || { tail -n 20 "$cache/$name.log" >&2; return 1; }
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    touch "$dir/.complete"
    find "$cache" -maxdepth 1 -name "$name-*" ! -name "$name-$key" -exec rm -rf {} +
  fi
  echo "$dir"
}

if ! docker version >/dev/null 2>&1; then
  start_docker_engine "${PGKEEP_ENGINE_DIR:-/tmp/pgkeep-engine}"
  echo "image.sh: started an engine: export DOCKER_HOST=$DOCKER_HOST (stop: Scripts/docker-engine.sh stop $DOCKER_ENGINE_DIR)" >&2
fi

swift_version=$(swift --version 2>/dev/null | grep -o 'Swift version [0-9.]*' | cut -d' ' -f3)
# The official image's packages, and what this toolchain's binaries load.
tree=$(debian_tree swift binutils,git,libc6-dev,libcurl4-openssl-dev,libedit2,libgcc-12-dev,libpython3.11,libsqlite3-0,libstdc++-12-dev,libxml2-dev,libz3-dev,pkg-config,tzdata,zlib1g-dev,ca-certificates,libncurses6,libcurl4,libicu72,libffi8)
swift_image=pgkeep-base/swift:$swift_version-bookworm-${tree##*-}
if ! docker image inspect "$swift_image" >/dev/null 2>&1; then
  printf '[url "/opt/swift-packages/"]\n\tinsteadOf = https://github.com/\n' >"$tree/etc/gitconfig"
  echo "image.sh: importing $swift_image (the toolchain at /opt/swift)" >&2
  tar -C "$tree" -cf - --exclude=./.complete . -C / opt/swift opt/swift-packages \
    | docker import -c "ENV PATH=/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      -c "ENV LANG=C.UTF-8" - "$swift_image" >/dev/null
fi

tree=$(debian_tree postgres postgresql-15,postgresql-client-15,ca-certificates)
postgres_image=pgkeep-base/postgres:15-bookworm-${tree##*-}
if ! docker image inspect "$postgres_image" >/dev/null 2>&1; then
  install -m 755 Scripts/docker-entrypoint-pg.sh "$tree/usr/local/bin/docker-entrypoint.sh"
  echo "image.sh: importing $postgres_image" >&2
  tar -C "$tree" -cf - --exclude=./.complete . \
    | docker import -c "ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      -c "ENV PGDATA=/var/lib/postgresql/data" -c "ENV LANG=C.UTF-8" \
      -c 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' -c 'CMD ["postgres"]' - "$postgres_image" >/dev/null
fi

# The runtime stage's (debian:bookworm-slim's stand-in): Debian 12 minbase, slimmed as the official
# image is: no documentation, manuals or translations, and dpkg told to install none (its
# /etc/dpkg/dpkg.cfg.d/docker).
tree=$(debian_tree slim "")
slim_image=pgkeep-base/debian:bookworm-slim-${tree##*-}
if ! docker image inspect "$slim_image" >/dev/null 2>&1; then
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/lintian/*' 'path-exclude /usr/share/linda/*' 'path-exclude /usr/share/locale/*' \
    >"$tree/etc/dpkg/dpkg.cfg.d/docker"
  find "$tree/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
  rm -rf "$tree"/usr/share/man/* "$tree"/usr/share/groff/* "$tree"/usr/share/info/* "$tree"/usr/share/lintian/* \
    "$tree"/usr/share/locale/*
  echo "image.sh: importing $slim_image" >&2
  tar -C "$tree" -cf - --exclude=./.complete . | docker import -c "ENV LANG=C.UTF-8" - "$slim_image" >/dev/null
fi

started=$(date +%s)
docker build --network host --build-arg "SWIFT_IMAGE=$swift_image" --build-arg "POSTGRES_IMAGE=$postgres_image" \
  --build-arg "RUNTIME_IMAGE=$slim_image" -t "pgkeep:$tag" .
# The size, and how long `pgkeep --version` takes to start inside a new container (the process,
# not docker's start-up: timed by the container's own clock).
size=$(docker image inspect -f '{{.Size}}' "pgkeep:$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')
start_ms=$(docker run --rm --entrypoint /bin/sh "pgkeep:$tag" -c \
  's=$(date +%s%N); pgkeep --version >/dev/null; e=$(date +%s%N); echo $(((e - s) / 1000000))')
echo "image.sh: pgkeep:$tag built in $(($(date +%s) - started)) s, $size; pgkeep --version starts in $start_ms ms in it"
