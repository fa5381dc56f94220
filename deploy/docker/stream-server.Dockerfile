# The streaming server (`remotemedia serve`, docs/streaming.md) as an image. Sessions are
# independent, so replicas of it scale out behind any load balancer (WebSocket-aware).
# Docker nodes still work from inside: the compose service mounts the host's docker socket, and
# /dev/shm so the containers it starts share the IPC rings with it (docs/docker-nodes.md).
#   docker build -f deploy/docker/stream-server.Dockerfile -t remotemedia/stream-server .
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS builder
ARG BUILD_JOBS=2
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ cmake ninja-build pkg-config \
      libboost1.81-dev libboost-json1.81-dev libspdlog-dev libfmt-dev libcli11-dev \
      libexpected-dev libyaml-cpp-dev libsndfile1-dev libsoxr-dev libwebrtc-audio-processing-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DRM_COMPONENTS=runtime \
      -DRM_BUILD_TESTS=OFF -DRM_BUILD_BENCH=OFF -DRM_BUILD_FUZZ=OFF \
 && cmake --build /build -j "${BUILD_JOBS}" --target remotemedia remotemedia_ipc rm_web \
 && mkdir -p /out/bin /out/lib /out/share/remotemedia \
 && install -m 0755 -s /build/apps/remotemedia/remotemedia /out/bin/ \
 && install -m 0644 /build/ipc/libremotemedia_ipc.so /out/lib/ \
 && cp -r /build/share/remotemedia/web /out/share/remotemedia/ \
 && cp -r python /out/python

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# Runtime libraries, Python 3 + numpy for host-process nodes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libspdlog1.10 libfmt9 libboost-json1.81.0 \
      libyaml-cpp0.7 libsndfile1 libsoxr0 libwebrtc-audio-processing1 python3 python3-numpy \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=builder /out/bin/remotemedia /usr/local/bin/remotemedia
COPY --from=builder /out/lib/libremotemedia_ipc.so /usr/local/lib/libremotemedia_ipc.so
COPY --from=builder /out/share/remotemedia /usr/local/share/remotemedia
COPY --from=builder /out/python /opt/remotemedia/python
COPY examples/ /opt/remotemedia/examples/
COPY deploy/docker/healthcheck.sh /usr/local/bin/healthcheck
ENV RM_IPC_LIBRARY=/usr/local/lib/libremotemedia_ipc.so \
    RM_PYTHON_SDK_DIR=/opt/remotemedia/python \
    REMOTEMEDIA_PYTHON=/usr/bin/python3 \
    REMOTEMEDIA_NODE_PATH=/opt/remotemedia/examples/transcription/nodes
EXPOSE 8090
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["healthcheck", "http", "8090", "/health"]
ENTRYPOINT ["remotemedia", "serve", "--listen", "0.0.0.0:8090"]
CMD ["--pipelines", "/opt/remotemedia/examples/server", \
     "--pipelines", "transcription=/opt/remotemedia/examples/transcription/pipeline.yaml"]
