#!/usr/bin/env bash
# Build the CPU image on a locally made Debian base and run the pipeline's test profile in it:
#   make container-test            (or containers/test.sh [OUTDIR])
# No image is pulled: the base comes from containers/base.sh (debootstrap + docker import), the
# Python packages from PyPI (or this host's pip cache via --wheelhouse). Starts dockerd if none
# runs and Debian's docker.io is installed. Prints the time of each stage.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-$PWD/results-container}"
export PATH="$PWD/.venv/bin:$PATH"   # glmprobe for main_ci.nf's initialisation, pip for the wheelhouse
stamp() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null || { echo "container-test: no Docker engine (Debian: apt-get install docker.io)" >&2; exit 2; }
    stamp "starting dockerd"
    (dockerd >/tmp/glmprobe-dockerd.log 2>&1 &)
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "container-test: dockerd did not start (see /tmp/glmprobe-dockerd.log)" >&2; exit 2; }
fi
version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' src/glmprobe/__init__.py)"
t0=$SECONDS
if ! docker image inspect glmprobe-base:bookworm >/dev/null 2>&1; then
    stamp "base image (debootstrap)"
    containers/base.sh glmprobe-base:bookworm
fi
t1=$SECONDS
stamp "CPU image glmprobe:${version}"
# Fill the wheelhouse once (re-checking 3 GB of wheels against the index takes >10 min on a busy
# host); WHEELHOUSE=1 refreshes it.
wheels=()
if [[ "${WHEELHOUSE:-}" == 1 ]] || ! compgen -G 'containers/wheels/*.whl' >/dev/null; then wheels=(--wheelhouse); fi
BASE_IMAGE=glmprobe-base:bookworm TORCH_INDEX="${TORCH_INDEX-}" PIP="$PWD/.venv/bin/pip" \
    EXTRA_BUILD_ARGS="--network host ${EXTRA_BUILD_ARGS:-}" containers/build.sh --cpu-only "${wheels[@]}"
t2=$SECONDS
docker run --rm "glmprobe:${version}" glmprobe --version
stamp "nextflow run main_ci.nf -profile test,docker"
launch="$(mktemp -d)"
(cd "$launch" && "$OLDPWD/tools/nextflow/nextflow" run "$OLDPWD/main_ci.nf" -profile test,docker --nf_schema false \
    --outdir "$out" -ansi-log false)
t3=$SECONDS
test -f "$out/report/index.html" && test -f "$out/mlflow.db"
printf 'container-test: base %ss, image %ss, pipeline %ss; results in %s\n' $((t1 - t0)) $((t2 - t1)) $((t3 - t2)) "$out"
