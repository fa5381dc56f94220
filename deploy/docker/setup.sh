#!/usr/bin/env bash
# Builds and starts the telemetry stack with docker compose (deploy/docker/docker-compose.yml).
#
#   ./deploy/docker/setup.sh             build and start in the foreground (Ctrl-C stops)
#   ./deploy/docker/setup.sh -d          build and start in the background, wait until healthy
#   ./deploy/docker/setup.sh -l          follow the logs of the running stack
#   ./deploy/docker/setup.sh -d --limits with the resource limits of docker-compose.limits.yml
#   ./deploy/docker/setup.sh --down [-v] stop and remove the stack (-v: and the data volume)
#
# Works with Compose v2 (`docker compose`) and with Debian's Compose v1 (`docker-compose`),
# whichever is installed (v2 preferred). Environment variables documented at the top of
# docker-compose.yml (ports, CSV, container prefix) pass through.
set -euo pipefail

DETACH=0 LOGS=0 LIMITS=0 DOWN=0 VOLUMES=0
WAIT_SECONDS=${WAIT_SECONDS:-180}

usage() {
  cat <<USAGE
usage: $0 [-d] [-l] [--limits] [--down [-v]] [-h]
  -d, --detach   start in the background and wait until every service is healthy
  -l, --logs     follow the logs of the running stack
  --limits       add docker-compose.limits.yml (CPU/memory limits)
  --down         stop and remove the containers and the network
  -v, --volumes  with --down: also remove the collector's data volume
USAGE
}

die() {
  echo "setup: ERROR: $*" >&2
  exit 1
}

while (($#)); do
  case $1 in
    -d | --detach) DETACH=1 ;;
    -l | --logs) LOGS=1 ;;
    --limits) LIMITS=1 ;;
    --down) DOWN=1 ;;
    -v | --volumes) VOLUMES=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
  shift
done

cd "$(dirname "$0")"

if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
else
  die "neither 'docker compose' (v2) nor 'docker-compose' (v1) is installed (Debian: apt-get install docker-compose)"
fi
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer; start it first"

FILES=(-f docker-compose.yml)
((LIMITS)) && FILES+=(-f docker-compose.limits.yml)
compose() { "${COMPOSE[@]}" "${FILES[@]}" "$@"; }

if ((DOWN)); then
  if ((VOLUMES)); then compose down --volumes --remove-orphans; else compose down --remove-orphans; fi
  exit 0
fi

if ((LOGS)) && ! ((DETACH)); then
  exec "${COMPOSE[@]}" "${FILES[@]}" logs -f
fi

if ! ((DETACH)); then
  exec "${COMPOSE[@]}" "${FILES[@]}" up --build
fi

compose up -d --build

# Wait for every container's health check (the streamer's waits for the collector's broker).
services=(telemetry-collector telemetry-streamer api-gateway)
deadline=$((SECONDS + WAIT_SECONDS))
for svc in "${services[@]}"; do
  id=$(compose ps -q "$svc")
  [ -n "$id" ] || die "service $svc has no container; see: ${COMPOSE[*]} logs $svc"
  while :; do
    state=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
    case $state in
      "running healthy" | "running none") echo "setup: $svc is up ($state)"; break ;;
      exited* | dead*) die "$svc stopped ($state); see: ${COMPOSE[*]} logs $svc" ;;
    esac
    ((SECONDS < deadline)) || die "$svc is not healthy after ${WAIT_SECONDS}s ($state); see: ${COMPOSE[*]} logs $svc"
    sleep 1
  done
done

cat <<DONE
setup: the stack is up
  curl http://localhost:${GATEWAY_HOST_PORT:-8081}/health
  curl http://localhost:${GATEWAY_HOST_PORT:-8081}/api/v1/gpus
  curl http://localhost:${COLLECTOR_HEALTH_HOST_PORT:-8080}/health
DONE
if ((LOGS)); then exec "${COMPOSE[@]}" "${FILES[@]}" logs -f; fi
