#!/usr/bin/env bash
# Make the base image locally, for hosts that cannot pull from a registry:
# a minimal Debian bookworm root file system (debootstrap, from Debian's package mirror)
# imported as a Docker image.
#
#   containers/base.sh [TAG]        default TAG: glmprobe-base:bookworm
#   then: BASE_IMAGE=glmprobe-base:bookworm containers/build.sh
#
# Needs root, debootstrap and a running Docker engine (Debian: apt-get install debootstrap docker.io).
set -euo pipefail
TAG="${1:-glmprobe-base:bookworm}"
SUITE="${SUITE:-bookworm}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
ENGINE="${ENGINE:-docker}"
command -v debootstrap >/dev/null || { echo "base.sh: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "base.sh: debootstrap needs root" >&2; exit 2; }
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >&2
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
tar -C "$root" --numeric-owner -c . | "$ENGINE" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$TAG" >/dev/null
echo "$TAG"
