# ---- shared stages: keep these lines byte-identical in all three Dockerfiles ----
# telemetry-streamer.Dockerfile, telemetry-collector.Dockerfile and api-gateway.Dockerfile
# start with the same `builder` and `runtime-base` stages, so the second and third image reuse
# the first one's cached layers: the C++ code is compiled once (one RUN builds all three apps)
# and the runtime packages are installed once. tests/integration/deploy checks the identity.
#
# Base: Debian bookworm slim, not Alpine: the apps are built against Debian's packaged Boost
# 1.81, spdlog, fmt, CLI11 and the NATS C client with glibc; the runtime stage installs exactly
# the shared libraries the binaries need (libspdlog, libfmt, libboost-json, libnats) from the
# same archive.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS builder
ARG BUILD_JOBS=2
ENV DEBIAN_FRONTEND=noninteractive
# -DRM_COMPONENTS=telemetry configures only core, telemetry and the apps; each module finds its
# own dependencies, so no audio or YAML library is needed.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ cmake ninja-build pkg-config \
      libboost1.81-dev libboost-json1.81-dev libspdlog-dev libfmt-dev libcli11-dev \
      libexpected-dev \
      libnats-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only the modules the telemetry apps use: a change elsewhere does not invalidate this cache.
# (Modules of other components are not configured, so their folders need not exist.)
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY core/ core/
COPY telemetry/ telemetry/
COPY apps/CMakeLists.txt apps/
COPY apps/telemetry-streamer/ apps/telemetry-streamer/
COPY apps/telemetry-collector/ apps/telemetry-collector/
COPY apps/api-gateway/ apps/api-gateway/
COPY web/CMakeLists.txt web/copy_web.cmake web/
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DRM_COMPONENTS=telemetry \
      -DRM_BUILD_TESTS=OFF -DRM_BUILD_BENCH=OFF -DRM_BUILD_FUZZ=OFF \
 && cmake --build /build -j "${BUILD_JOBS}" \
      --target telemetry-streamer telemetry-collector api-gateway \
 && mkdir -p /out \
 && for app in telemetry-streamer telemetry-collector api-gateway; do \
      install -m 0755 -s "/build/apps/$app/$app" /out/; \
    done

FROM ${BASE_IMAGE} AS runtime-base
ENV DEBIAN_FRONTEND=noninteractive
# Runtime shared libraries only (no compiler, no headers, no curl); uid/gid 1000 owns /data so
# a fresh named volume mounted there inherits that ownership.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libspdlog1.10 libfmt9 libboost-json1.81.0 libnats3.4 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && groupadd --gid 1000 nonroot \
 && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nonroot \
 && mkdir -p /data \
 && chown 1000:1000 /data
COPY deploy/docker/healthcheck.sh /usr/local/bin/healthcheck
# ---- end of shared stages ----

FROM runtime-base
COPY --from=builder /out/api-gateway /usr/local/bin/api-gateway
COPY deploy/docker/entrypoint-api-gateway.sh /entrypoint.sh
ENV PORT=8081 \
    DATA_DIR=/data \
    COLLECTOR_HOST=telemetry-collector \
    COLLECTOR_PORT=8080 \
    METRICS_PORT=9092
# 8081 REST API (/health, /api/v1/...), 9092 Prometheus metrics
EXPOSE 8081 9092
USER 1000:1000
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/bin/sh", "-c", "exec healthcheck http \"${PORT:-8081}\" /health"]
ENTRYPOINT ["/entrypoint.sh"]
