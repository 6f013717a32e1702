# pgkeep's image: a Swift build stage and a runtime stage on the official postgres image (its
# client tools, pg_dump, pg_restore and psql, of the newest major version, dump every older server),
# with rclone, age and CA certificates. pgkeep runs as PID 1, as a user without privileges, and ends
# its children cleanly on SIGTERM (docker stop): no shell in between.
#
#   docker build -t pgkeep .
#   docker run --rm pgkeep --version
#
# The base images are build arguments: Scripts/image.sh builds this same file from bases made on the
# machine where no registry is reachable.
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=postgres:17-bookworm

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev zlib1g-dev libzstd-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
COPY Tests Tests
RUN swift build -c release --static-swift-stdlib --product pgkeep \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/pgkeep" /out/pgkeep \
    && strip /out/pgkeep

FROM ${RUNTIME_IMAGE}
# libcurl for the monitor's HTTP (FoundationNetworking), libzstd for --compress zstd.
RUN apt-get update \
    && apt-get install -y --no-install-recommends rclone age ca-certificates libcurl4 libzstd1 libpq5 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/pgkeep --create-home pgkeep \
    && chmod 700 /var/lib/pgkeep
COPY --from=build /out/pgkeep /usr/local/bin/pgkeep
USER pgkeep
WORKDIR /var/lib/pgkeep
ENV HOME=/var/lib/pgkeep
ENTRYPOINT ["/usr/local/bin/pgkeep"]
CMD ["--help"]
