# NATS JetStream server for cluster mode (docs/cluster.md), built locally from Debian's
# nats-server package like the other images (no image registry). Configuration is passed as
# arguments (see docker-compose.cluster.yml and the Helm chart's nats StatefulSet).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends nats-server \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && groupadd --gid 1000 nonroot \
 && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nonroot \
 && mkdir -p /data \
 && chown 1000:1000 /data
COPY deploy/docker/healthcheck.sh /usr/local/bin/healthcheck
# 4222 clients, 6222 cluster routes, 8222 monitoring (/healthz, /jsz)
EXPOSE 4222 6222 8222
VOLUME ["/data"]
USER 1000:1000
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 \
  CMD ["healthcheck", "http", "8222", "/healthz"]
ENTRYPOINT ["/usr/sbin/nats-server"]
CMD ["-js", "-sd", "/data", "-m", "8222"]
