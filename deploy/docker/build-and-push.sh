#!/usr/bin/env bash
# Builds the three telemetry images (telemetry-streamer, telemetry-collector, api-gateway) and
# the NATS JetStream server of cluster mode (nats-server, from Debian's package; docs/cluster.md)
# and pushes them to a registry (default: a local registry on localhost:5000).
#
#   ./deploy/docker/build-and-push.sh                 build, tag localhost:5000/<image>:latest, push
#   ./deploy/docker/build-and-push.sh -t v1.0.0       another tag
#   ./deploy/docker/build-and-push.sh -p 5001         registry on localhost:5001
#   ./deploy/docker/build-and-push.sh --no-push       build <image>:<tag> only (make docker-build)
#
# The three telemetry Dockerfiles share their builder stage, so the code is compiled by the first build
# and the other two reuse the cached layers. Builds use --network host so apt inside the build
# reaches the Debian archive the way the host does.
set -euo pipefail

TAG=latest
REGISTRY_HOST=${REGISTRY_HOST:-localhost}
REGISTRY_PORT=5000
PUSH=1
BUILD_JOBS=${BUILD_JOBS:-2}
IMAGES=(telemetry-streamer telemetry-collector api-gateway nats-server)

usage() {
  cat <<USAGE
usage: $0 [-t TAG] [-p REGISTRY_PORT] [-r REGISTRY_HOST] [-j JOBS] [--no-push] [-h]
  -t TAG            image tag (default latest)
  -p REGISTRY_PORT  registry port (default 5000)
  -r REGISTRY_HOST  registry host (default localhost, or \$REGISTRY_HOST)
  -j JOBS           compiler jobs inside the build (default 2, or \$BUILD_JOBS)
  --no-push         only build <image>:<tag> locally; do not tag for or push to a registry
USAGE
}

die() {
  echo "build-and-push: ERROR: $*" >&2
  exit 1
}

while (($#)); do
  case $1 in
    -t | --tag) TAG=${2:?"-t needs a tag"}; shift 2 ;;
    -p | --port) REGISTRY_PORT=${2:?"-p needs a port"}; shift 2 ;;
    -r | --registry) REGISTRY_HOST=${2:?"-r needs a host"}; shift 2 ;;
    -j | --jobs) BUILD_JOBS=${2:?"-j needs a number"}; shift 2 ;;
    --no-push) PUSH=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

[[ $TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] ||
  die "tag '$TAG' is not a valid Docker tag (letters, digits, _ . -; at most 128)"
if ! [[ $REGISTRY_PORT =~ ^[0-9]{1,5}$ ]] || ((REGISTRY_PORT < 1 || REGISTRY_PORT > 65535)); then
  die "registry port '$REGISTRY_PORT' is not a port number (1-65535)"
fi
[[ $BUILD_JOBS =~ ^[1-9][0-9]*$ ]] || die "jobs '$BUILD_JOBS' is not a positive number"
command -v docker >/dev/null || die "the docker CLI is missing (apt-get install docker.io)"
docker info >/dev/null 2>&1 ||
  die "the Docker daemon does not answer; start it (scripts/docker-up.sh does on this project's machines)"

cd "$(dirname "$0")/../.."
REGISTRY="$REGISTRY_HOST:$REGISTRY_PORT"

if ((PUSH)); then
  # Fail before a long build when nothing listens there.
  if command -v curl >/dev/null && ! curl -sf --max-time 5 "http://$REGISTRY/v2/" >/dev/null; then
    die "no registry answers at http://$REGISTRY/v2/; start one (docker run -d -p $REGISTRY_PORT:5000 registry:2, or Debian's docker-registry) or use --no-push"
  fi
fi

start=$SECONDS
for image in "${IMAGES[@]}"; do
  echo "build-and-push: building $image:$TAG"
  docker build --network host --build-arg "BUILD_JOBS=$BUILD_JOBS" \
    -f "deploy/docker/$image.Dockerfile" -t "$image:$TAG" . ||
    die "building $image failed (see the output above)"
done
echo "build-and-push: built ${IMAGES[*]} with tag $TAG in $((SECONDS - start)) s"

if ((PUSH)); then
  for image in "${IMAGES[@]}"; do
    docker tag "$image:$TAG" "$REGISTRY/$image:$TAG"
    echo "build-and-push: pushing $REGISTRY/$image:$TAG"
    docker push "$REGISTRY/$image:$TAG" || die "pushing $REGISTRY/$image:$TAG failed"
  done
  echo "build-and-push: pushed to $REGISTRY (curl http://$REGISTRY/v2/_catalog)"
fi
docker images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' |
  grep -E "^(${REGISTRY//./\\.}/)?(telemetry-streamer|telemetry-collector|api-gateway|nats-server):${TAG//./\\.} " || true
