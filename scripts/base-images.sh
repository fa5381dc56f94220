#!/usr/bin/env bash
# Builds the base images the docker nodes expect, locally (there is no image registry here):
#   debian:bookworm-slim   debootstrap --variant=minbase bookworm
#   python:3.11-slim       bookworm minbase plus python3, python3-pip, python3-venv,
#                          ca-certificates, `python`/`pip` in /usr/local/bin and no
#                          EXTERNALLY-MANAGED marker, so `pip install` works as in the official image.
#   python:3.9-slim        the same from bullseye (Python 3.9)
#   python:3.13-slim       the same from trixie (Python 3.13)
# These are the Pythons Debian releases ship; `--list` prints the image names this script can
# build (the runtime reads it to say which versions it can provide). Only missing images are
# built. Root filesystems are cached as tarballs (and the downloaded
# .debs in a package cache) under RM_BASE_CACHE, so rebuilding after `docker system prune` only
# re-imports a tarball (seconds).
#
# Environment:
#   RM_BASE_CACHE        cache directory (default /var/cache/remotemedia)
#   RM_DEBIAN_MIRROR     Debian mirror (default: the one /etc/apt/sources* uses)
#   RM_DEBOOTSTRAP_TIMEOUT  seconds per debootstrap run (default 1200)
#   RM_BASE_IMAGES       space-separated images to build (default: debian:bookworm-slim
#                        python:3.11-slim; arguments, when given, take precedence)
#   RM_FORCE_BASE_REBUILD=1  ignore cached tarballs and existing images
set -euo pipefail

# image -> "suite slug include-list"
declare -A RECIPES=(
  [debian:bookworm-slim]="bookworm debian-bookworm-slim -"
  [python:3.9-slim]="bullseye python-3.9-slim ca-certificates,python3,python3-pip,python3-venv"
  [python:3.11-slim]="bookworm python-3.11-slim ca-certificates,python3,python3-pip,python3-venv"
  [python:3.13-slim]="trixie python-3.13-slim ca-certificates,python3,python3-pip,python3-venv"
)
if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${!RECIPES[@]}" | sort -V
  exit 0
fi

CACHE=${RM_BASE_CACHE:-/var/cache/remotemedia}
SOCKET=${RM_DOCKER_SOCKET:-/var/run/docker.sock}
export DOCKER_HOST=${DOCKER_HOST:-unix://$SOCKET}
TIMEOUT=${RM_DEBOOTSTRAP_TIMEOUT:-1200}
IMAGES=${RM_BASE_IMAGES:-"debian:bookworm-slim python:3.11-slim"}
if (($#)); then IMAGES="$*"; fi
SUITE=bookworm  # set per image below

say() { echo "base-images: $*"; }
die() { echo "base-images: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and dockerd need it)"
command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install debootstrap"
command -v docker >/dev/null || die "docker CLI missing: apt-get install docker.io"
curl -sf --max-time 5 --unix-socket "$SOCKET" http://localhost/_ping >/dev/null ||
  die "Docker daemon not accessible at $SOCKET: run scripts/docker-up.sh first"

# The mirror the host's apt uses (deb822 .sources or one-line .list), else deb.debian.org.
host_uri() {  # $1: regex the URI path must match
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    2>/dev/null | grep -vE '^\s*#' | grep -oE '(https?|file)://[^ ]+' | grep -E "$1" | head -n1
}
MIRROR=${RM_DEBIAN_MIRROR:-$(host_uri '/debian/?$' || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}
SECURITY=$(host_uri '/debian-security/?$' || true)
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
SECURITY=${SECURITY%/}

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

# Writes the image's apt sources (like the official images: main, updates, security).
write_sources() {
  local root=$1
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

# Same trimming as the official slim images: no apt lists, no downloaded .debs, no docs.
slim_down() {
  local root=$1
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log \
    "$root"/tmp/*
  # Images must not carry the build host's identity.
  : >"$root/etc/hostname"
  : >"$root/etc/resolv.conf"
}

rootfs_tarball() {  # $1 slug, $2 include list (comma separated, may be empty)
  local slug=$1 include=$2
  local tarball="$CACHE/$slug.rootfs.tar"
  if [ -s "$tarball" ] && [ "${RM_FORCE_BASE_REBUILD:-0}" != 1 ]; then
    say "using cached root filesystem $tarball"
    return 0
  fi
  mkdir -p "$CACHE/debs"
  local root
  root=$(mktemp -d /var/tmp/rm-rootfs.XXXXXX)
  CLEANUP_ROOT=$root  # removed on exit, also when the runtime cancels us (SIGTERM)
  local args=(--variant=minbase --cache-dir="$CACHE/debs")
  [ -n "$include" ] && args+=(--include="$include")
  say "debootstrap $SUITE ($slug) from $MIRROR (timeout ${TIMEOUT}s)"
  local t=$SECONDS
  if ! timeout "$TIMEOUT" debootstrap "${args[@]}" "$SUITE" "$root" "$MIRROR" \
      >"$CACHE/$slug.debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE/$slug.debootstrap.log" >&2 || true
    grep -h 'E:\|W: Failure' "$root/debootstrap/debootstrap.log" 2>/dev/null | tail -n 10 >&2 || true
    die "debootstrap of $slug failed (full log: $CACHE/$slug.debootstrap.log); check that $MIRROR is reachable or set RM_DEBIAN_MIRROR"
  fi
  say "debootstrap $slug took $((SECONDS - t)) s"
  write_sources "$root"
  if [[ "$slug" == python-* ]]; then
    local pyver
    pyver=$(chroot "$root" /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    # pip refuses to install into Debian's interpreter while this marker exists (PEP 668);
    # the official image has none, and user images rely on plain `pip install`.
    rm -f "$root/usr/lib/python$pyver/EXTERNALLY-MANAGED"
    ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
    ln -sf /usr/bin/python3 "$root/usr/local/bin/python3"
    ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip"
    ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip3"
    echo "$pyver" >"$CACHE/$slug.pyver"
  fi
  slim_down "$root"
  tar --numeric-owner --xattrs -C "$root" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$root"
  CLEANUP_ROOT=
}

import_image() {  # $1 image ref, $2 slug
  local ref=$1 slug=$2
  local changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
                 --change 'ENV LANG=C.UTF-8')
  if [[ "$slug" == python-* ]]; then
    local pyver
    pyver=$(cat "$CACHE/$slug.pyver" 2>/dev/null || echo "${ref#python:}")
    pyver=${pyver%-slim}
    changes+=(--change "ENV PYTHON_VERSION=$pyver" --change 'ENV PIP_DISABLE_PIP_VERSION_CHECK=1'
              --change 'CMD ["python3"]')
  else
    changes+=(--change 'CMD ["bash"]')
  fi
  docker import "${changes[@]}" --message "remotemedia local base image ($SUITE minbase)" \
    "$CACHE/$slug.rootfs.tar" "$ref" >/dev/null
  say "imported $ref"
}

CLEANUP_ROOT=
trap '[ -z "$CLEANUP_ROOT" ] || rm -rf "$CLEANUP_ROOT"' EXIT
trap 'exit 143' TERM INT

mkdir -p "$CACHE"
start=$SECONDS
for ref in $IMAGES; do
  if image_present "$ref" && [ "${RM_FORCE_BASE_REBUILD:-0}" != 1 ]; then
    say "$ref present"
    continue
  fi
  recipe=${RECIPES[$ref]:-}
  [ -n "$recipe" ] || die "no recipe for base image $ref (known: $(printf '%s ' "${!RECIPES[@]}"))"
  read -r SUITE slug include <<<"$recipe"
  [ "$include" = - ] && include=""
  # One build per image at a time, also across processes (two sessions may ask at once).
  exec 9>"$CACHE/$slug.lock"
  flock 9
  if image_present "$ref" && [ "${RM_FORCE_BASE_REBUILD:-0}" != 1 ]; then
    say "$ref present (built meanwhile)"
    exec 9>&-
    continue
  fi
  t=$SECONDS
  rootfs_tarball "$slug" "$include"
  import_image "$ref" "$slug"
  say "$ref ready in $((SECONDS - t)) s"
  exec 9>&-
done
say "done in $((SECONDS - start)) s"
