#!/usr/bin/env bash
# Build the glmprobe images, tagged with the glmprobe version (never `latest`).
#
#   containers/build.sh                 glmprobe:V and glmprobe-gpn:V (CPU)
#   containers/build.sh --cuda          also glmprobe-cuda:V and glmprobe-gpn-cuda:V (gpu profile)
#   containers/build.sh --push REG      also tag and push REG/<image>:V (then set docker.registry = REG)
#   containers/build.sh --sif DIR       also write DIR/<image>-V.img for Singularity/Apptainer
#                                       (use DIR as NXF_SINGULARITY_CACHEDIR / NXF_APPTAINER_CACHEDIR)
#   containers/build.sh --cpu-only      only glmprobe:V (no gpn image)
#   containers/build.sh --wheelhouse    pip download the runtime pins into containers/wheels/ first
#                                       (on this host), so the build installs them with --no-index
#   ENGINE=podman containers/build.sh   build with podman instead of docker
#   BASE_IMAGE=glmprobe-base:bookworm   the Debian bookworm base (default debian:bookworm-slim;
#                                       containers/base.sh makes one locally without a registry)
#   TORCH_INDEX=URL|''                  extra index for torch (default PyTorch's CPU wheels; '' = PyPI)
#   EXTRA_BUILD_ARGS="--network host ..."  extra flags for every build
set -euo pipefail

cd "$(dirname "$0")/.."
ENGINE="${ENGINE:-docker}"
VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' src/glmprobe/__init__.py)"
[[ -n "$VERSION" ]] || { echo "build.sh: cannot read __version__ from src/glmprobe/__init__.py" >&2; exit 2; }

cuda=0; registry=""; sif_dir=""; cpu_only=0; wheelhouse=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --cuda) cuda=1; shift ;;
        --push) registry="${2:?--push needs a registry}"; shift 2 ;;
        --sif)  sif_dir="${2:?--sif needs a folder}"; shift 2 ;;
        --cpu-only) cpu_only=1; shift ;;
        --wheelhouse) wheelhouse=1; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

build() {  # build NAME DOCKERFILE [--build-arg ...]
    local name="$1" file="$2"; shift 2
    echo "== ${name}:${VERSION}" >&2
    # shellcheck disable=SC2086
    "$ENGINE" build -f "$file" -t "${name}:${VERSION}" --build-arg "GLMPROBE_VERSION=${VERSION}" ${EXTRA_BUILD_ARGS:-} "$@" .
    images+=("${name}:${VERSION}")
}

BASE_IMAGE="${BASE_IMAGE:-debian:bookworm-slim}"
TORCH_INDEX="${TORCH_INDEX-https://download.pytorch.org/whl/cpu}"
mkdir -p containers/wheels
if [[ $wheelhouse == 1 ]]; then
    pip="${PIP:-$(command -v pip3 || command -v pip)}"
    sed '/^# test \/ static-check tools/,$d' requirements.txt > containers/wheels/runtime.txt
    # shellcheck disable=SC2086
    "$pip" download --quiet --dest containers/wheels ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} \
        --requirement containers/wheels/runtime.txt --constraint requirements.lock
fi

images=()
build glmprobe containers/Dockerfile --build-arg "BASE_IMAGE=${BASE_IMAGE}" --build-arg "TORCH_INDEX=${TORCH_INDEX}"
[[ $cpu_only == 1 ]] || build glmprobe-gpn containers/gpn/Dockerfile --build-arg "BASE_IMAGE=glmprobe:${VERSION}"
if [[ $cuda == 1 ]]; then
    build glmprobe-cuda containers/Dockerfile --build-arg "BASE_IMAGE=${BASE_IMAGE}" \
        --build-arg "TORCH_INDEX=${TORCH_INDEX:+https://download.pytorch.org/whl/cu128}"
    [[ $cpu_only == 1 ]] || build glmprobe-gpn-cuda containers/gpn/Dockerfile --build-arg "BASE_IMAGE=glmprobe-cuda:${VERSION}"
fi

for image in "${images[@]}"; do
    if [[ -n "$registry" ]]; then
        "$ENGINE" tag "$image" "${registry}/${image}"
        "$ENGINE" push "${registry}/${image}"
    fi
    if [[ -n "$sif_dir" ]]; then
        mkdir -p "$sif_dir"
        # Nextflow looks for <name>-<tag>.img in its Singularity/Apptainer cache dir.
        sif="${sif_dir}/${image//[:\/]/-}.img"
        tool="$(command -v apptainer || command -v singularity)" || { echo "build.sh: --sif needs apptainer or singularity" >&2; exit 2; }
        "$tool" build --force "$sif" "docker-daemon://${image}"
    fi
done
printf 'built: %s\n' "${images[@]}"
