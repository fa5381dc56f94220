#!/bin/bash
# Container health probe without curl or wget in the image: bash's /dev/tcp.
#   healthcheck http PORT PATH   healthy when GET http://127.0.0.1:PORT/PATH answers 200
#   healthcheck tcp HOST PORT    healthy when a TCP connection to HOST:PORT opens
# Exit status 0 = healthy, 1 = unhealthy (what Docker's HEALTHCHECK expects). A peer that
# accepts but never answers is bounded by `read -t` here and by HEALTHCHECK --timeout.
set -uo pipefail

usage() {
  echo "usage: healthcheck http PORT PATH | healthcheck tcp HOST PORT" >&2
  exit 1
}

[ $# -eq 3 ] || usage
case $1 in
  http)
    port=$2 path=$3
    if ! exec 3<>"/dev/tcp/127.0.0.1/$port"; then
      echo "healthcheck: nothing listens on 127.0.0.1:$port" >&2
      exit 1
    fi
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
    status=""
    IFS= read -r -t 3 status <&3 || true
    exec 3<&-
    status=${status%$'\r'}
    case $status in
      "HTTP/1."[01]" 200"*) exit 0 ;;
      *)
        echo "healthcheck: GET $path on port $port answered '${status:-nothing}'" >&2
        exit 1
        ;;
    esac
    ;;
  tcp)
    host=$2 port=$3
    if exec 3<>"/dev/tcp/$host/$port"; then
      exec 3<&-
      exit 0
    fi
    echo "healthcheck: cannot connect to $host:$port" >&2
    exit 1
    ;;
  *) usage ;;
esac
