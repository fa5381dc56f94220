#!/usr/bin/env bash
# Makes a Docker engine available for the docker tests and the demo, on a machine without
# systemd: installs docker.io when missing, starts dockerd in the background when the socket
# does not answer, waits for it, then builds the local base images that are missing
# (scripts/base-images.sh). Idempotent: on a machine where everything is up it only pings.
#
# Environment:
#   RM_DOCKER_SOCKET           socket to use (default /var/run/docker.sock)
#   RM_DOCKER_STORAGE_DRIVER   force a storage driver (default: overlay2, falling back to vfs)
#   RM_DOCKER_LOG              dockerd log file (default /var/log/dockerd.log)
#   RM_DOCKER_START_TIMEOUT    seconds to wait for the daemon (default 60)
#   RM_SKIP_BASE_IMAGES=1      only start the daemon
#
# Why overlay2 first: it is the only driver whose container start is fast enough for the
# latency goals (vfs copies the whole image on every container create: seconds per start).
# It needs a filesystem with d_type (ext4/xfs) under /var/lib/docker and overlay support in the
# kernel; when dockerd cannot start with it (nested overlay, tmpfs root), vfs always works.
set -euo pipefail
cd "$(dirname "$0")/.."

SOCKET=${RM_DOCKER_SOCKET:-/var/run/docker.sock}
LOG=${RM_DOCKER_LOG:-/var/log/dockerd.log}
START_TIMEOUT=${RM_DOCKER_START_TIMEOUT:-60}

say() { echo "docker-up: $*"; }
die() { echo "docker-up: ERROR: $*" >&2; exit 1; }

ping_daemon() {
  curl -sf --max-time 3 --unix-socket "$SOCKET" http://localhost/_ping >/dev/null 2>&1
}

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! command -v dockerd >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
  say "installing docker.io (dockerd missing)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || die "apt-get update failed; check the network and /etc/apt/sources.list"
  $SUDO apt-get install -y -qq --no-install-recommends docker.io curl debootstrap ||
    die "apt-get install docker.io failed"
fi

# Starts dockerd with the given storage driver; returns 0 once the socket answers.
start_dockerd() {
  local driver=$1
  say "starting dockerd (storage driver $driver, log $LOG)"
  mkdir -p "$(dirname "$LOG")" 2>/dev/null || LOG=$(mktemp /tmp/dockerd.XXXXXX.log)
  # setsid + nohup: the daemon must outlive this script and the CI step that ran it.
  $SUDO setsid nohup dockerd --storage-driver="$driver" -H "unix://$SOCKET" \
    >>"$LOG" 2>&1 </dev/null &
  local pid=$!
  DOCKERD_PID=$pid
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ping_daemon; then
      say "dockerd is up (pid $pid)"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null && ! pgrep -x dockerd >/dev/null; then
      say "dockerd exited; last log lines:"
      tail -n 15 "$LOG" >&2 || true
      return 1
    fi
    sleep 0.5
  done
  say "dockerd did not answer on $SOCKET within ${START_TIMEOUT}s; last log lines:"
  tail -n 15 "$LOG" >&2 || true
  return 1
}

if ping_daemon; then
  say "daemon already answering on $SOCKET"
else
  if pgrep -x dockerd >/dev/null; then
    # Another dockerd is starting (or hung): give it the same time before touching anything.
    say "dockerd is running but $SOCKET does not answer yet; waiting up to ${START_TIMEOUT}s"
    deadline=$((SECONDS + START_TIMEOUT))
    until ping_daemon; do
      ((SECONDS < deadline)) || die "dockerd is running but $SOCKET does not answer; see $LOG, or stop it and re-run"
      sleep 0.5
    done
  elif [ -n "${RM_DOCKER_STORAGE_DRIVER:-}" ]; then
    start_dockerd "$RM_DOCKER_STORAGE_DRIVER" ||
      die "dockerd failed to start with storage driver $RM_DOCKER_STORAGE_DRIVER (see $LOG)"
  else
    if ! start_dockerd overlay2; then
      say "overlay2 failed; falling back to vfs (slower container starts, always works)"
      # Stop only the daemon this script started.
      if [ -n "${DOCKERD_PID:-}" ]; then kill "$DOCKERD_PID" 2>/dev/null || true; fi
      sleep 1
      start_dockerd vfs || die "dockerd failed to start with overlay2 and vfs (see $LOG)"
    fi
  fi
fi

curl -sf --max-time 5 --unix-socket "$SOCKET" http://localhost/version |
  /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin); print("docker-up: engine", v["Version"], "API", v["ApiVersion"])' || true

if [ "${RM_SKIP_BASE_IMAGES:-0}" != 1 ]; then
  RM_DOCKER_SOCKET="$SOCKET" bash scripts/base-images.sh
fi
