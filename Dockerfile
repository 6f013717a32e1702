# pgkeep's image: a Swift build stage, the PostgreSQL client tools taken from the official postgres
# image (its newest major version dumps every older server), and a small Debian runtime stage with
# pgkeep and its manual pages, those tools, rclone, age, tzdata and CA certificates. pgkeep runs as
# PID 1, as a user without privileges, and ends its children cleanly on SIGTERM (docker stop): no
# shell in between.
#
#   docker build -t pgkeep .
#   docker run --rm pgkeep --version
#
# The base images are build arguments: Scripts/image.sh builds this same file from bases made on the
# machine where no registry is reachable.
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG POSTGRES_IMAGE=postgres:17-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev zlib1g-dev libzstd-dev libdeflate-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
COPY Tests Tests
RUN swift build -c release --static-swift-stdlib --product pgkeep \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/pgkeep" /out/pgkeep \
    && strip /out/pgkeep
# The manual pages, generated from the command tree by swift-argument-parser's generate-manual (the
# tool its plugin runs; run directly, it reads the binary just built instead of building the package
# a second time): pgkeep.1 and one page per subcommand (pgkeep.backup.1, ...).
RUN swift build -c release --product generate-manual \
    && install -d /out/man \
    && "$(swift build -c release --show-bin-path)/generate-manual" /out/pgkeep --multi-page --output-directory /out/man

# The client tools and the libpq they were built with, at the paths they have in the postgres image
# (/usr/lib/postgresql/N/bin, where pgkeep looks for them, linked from /usr/local/bin for PATH; the
# library in its real directory, never through the /lib symlink, which a copied directory would
# replace). The server is left behind.
FROM ${POSTGRES_IMAGE} AS clients
RUN set -e; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1); \
    mkdir -p "/out$bin" /out/usr/local/bin; \
    for tool in pg_dump pg_dumpall pg_restore psql pg_isready; do \
      cp -p "$bin/$tool" "/out$bin/"; ln -s "$bin/$tool" "/out/usr/local/bin/$tool"; done; \
    lib=$(ldconfig -p | awk '$1 == "libpq.so.5" { print $NF; exit }'); \
    dir=$(realpath "$(dirname "$lib")"); mkdir -p "/out$dir"; cp -L "$lib" "/out$dir/libpq.so.5"

FROM ${RUNTIME_IMAGE}
# What the client tools, libpq and pgkeep load (libcurl for the monitor's HTTP), rclone and age for
# [[remote]] and [encryption], tzdata for [schedule] timezone; no manuals, translations or
# documentation but the copyrights (as in the slim base itself).
RUN apt-get update \
    && apt-get install -y --no-install-recommends rclone age ca-certificates tzdata libcurl4 libzstd1 liblz4-1 \
        zlib1g libdeflate0 libssl3 libgssapi-krb5-2 libldap-2.5-0 libreadline8 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
        /usr/share/man/* /usr/share/locale/* /usr/share/info/* \
    && find /usr/share/doc -mindepth 1 ! -name copyright ! -type d -delete \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/pgkeep --create-home pgkeep \
    && chmod 700 /var/lib/pgkeep \
    && install -d -o pgkeep -g pgkeep -m 0700 /backups
COPY --from=clients /out/ /
COPY --from=build /out/pgkeep /usr/local/bin/pgkeep
COPY --from=build /out/man/ /usr/local/share/man/man1/
RUN ldconfig && pgkeep --version && for t in /usr/lib/postgresql/*/bin/*; do "$t" --version >/dev/null; done
# /backups belongs to pgkeep: a named volume mounted there starts with its owner and mode.
USER pgkeep
WORKDIR /var/lib/pgkeep
ENV HOME=/var/lib/pgkeep
ENTRYPOINT ["/usr/local/bin/pgkeep"]
CMD ["--help"]
