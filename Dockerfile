# syntax=docker/dockerfile:1
# bullmq-worker: a native C++ worker for BullMQ queues.
#
#   docker build -t bullmq-worker .
#   docker run --rm -e REDIS_URL=redis://redis:6379/0 -e DATABASE_URL=postgresql://… \
#     -e STORAGE_BASE_PATH=/data/uploads -v uploads:/data/uploads bullmq-worker \
#     run --queue file-processing
#
# Build stage: the same commands as CI's release suite (scripts/test.sh --only
# release). scripts/install-deps.sh --build-only installs the build
# dependencies from Debian 12 packages (toolchain, -dev libraries, nodejs and
# npm; no browser, no test servers); scripts/build-release.sh builds the
# Release binary and plugin in build-release/, strips them and runs --version.
# The build runs `npm ci` for the pinned bullmq package in lua/ (its Lua
# scripts are embedded in the binary), so this stage needs the npm registry.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
RUN scripts/build-release.sh build-release

# Runtime stage: only the shared libraries the binary and its plugin link
# (readelf -d NEEDED), plus tzdata (cron schedulers with time zones) and
# ca-certificates (rediss:// and TLS to PostgreSQL). Their own dependencies
# (libpq5, libmagic-mgc, libpoppler126, …) come with them.
#   bullmq-worker:            libssl3 (libssl, libcrypto), libcctz2
#   bullmq-worker-files.so:   libpqxx-6.4, libmagic1, libpoppler-cpp0v5,
#                             libzip4, libpugixml1v5, libssl3
#   bullmq-worker-otel.so:    libssl3 (tracing module, loaded when tracing is on)
# libc6, libstdc++6 and libgcc-s1 are part of debian:12-slim already.
FROM debian:12-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 libcctz2 \
      libpqxx-6.4 libpq5 libmagic1 libmagic-mgc libpoppler-cpp0v5 libzip4 libpugixml1v5 \
      tzdata ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 bullmq \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin bullmq \
 && mkdir -p /data/uploads && chown 10001:10001 /data/uploads

# The plugin and the tracing module are found in ../lib/bullmq-worker/
# relative to the binary.
COPY --from=build /src/build-release/bullmq-worker /usr/local/bin/bullmq-worker
COPY --from=build /src/build-release/bullmq-worker-files.so /usr/local/lib/bullmq-worker/bullmq-worker-files.so
COPY --from=build /src/build-release/bullmq-worker-otel.so /usr/local/lib/bullmq-worker/bullmq-worker-otel.so
# The processor SDK (headers, find_package(bullmq_worker_sdk), pkg-config
# bullmq-worker-sdk; a few kB): plugin images build against it in a stage of
# their own and copy their .so next to this image's binary.
COPY --from=build /src/build-release/sdk/ /usr/local/

ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="bullmq-worker" \
      org.opencontainers.image.description="Native C++ worker for BullMQ queues: document pipeline (files) and conformance processors" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/debian:12-slim"

# Probes and metrics on 9464 (/livez, /readyz, /metrics); set BULLMQ_HTTP_PORT=0
# to turn the listener off (the HEALTHCHECK then reports unhealthy).
ENV BULLMQ_HTTP_PORT=9464 \
    STORAGE_BASE_PATH=/data/uploads \
    LOG_FORMAT=json \
    LOG_LEVEL=info
EXPOSE 9464
USER 10001:10001
WORKDIR /data

# HEALTHCHECK without curl: curl and libcurl would add several MB and more
# libraries to audit for one request, while bash (already in debian:12-slim)
# can speak HTTP/1.0 over /dev/tcp. The check fails unless the status line of
# GET /livez is 200 (a TCP connect alone would pass on a stuck worker).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${BULLMQ_HTTP_PORT:-9464} && printf 'GET /livez HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && IFS= read -r status <&3 && [[ $status == 'HTTP/1.'?' 200'* ]]"]

# Signals: exec form, so bullmq-worker itself is PID 1 and receives SIGTERM
# (docker stop, Kubernetes) directly: it stops claiming, lets running jobs
# finish (or hands them back after --shutdown-timeout / BULLMQ_SHUTDOWN_TIMEOUT)
# and exits 0. No init (tini) is needed: the worker installs its own SIGTERM and
# SIGINT handlers (the kernel's PID 1 rule only drops signals that have no
# handler), and the only processes it starts are its `extract-file` children,
# which it waits for itself (waitpid) and which start no processes of their
# own, so no orphan is ever re-parented to PID 1. `docker run --init` remains
# possible and harmless.
STOPSIGNAL SIGTERM
ENTRYPOINT ["bullmq-worker"]
CMD ["run"]
