#!/usr/bin/env bash
# Build the glmprobe images, tagged with the glmprobe version (never `latest`).
#
#   containers/build.sh                 glmprobe:V and glmprobe-gpn:V (CPU)
#   containers/build.sh --cuda          also glmprobe-cuda:V and glmprobe-gpn-cuda:V (gpu profile)
#   containers/build.sh --push REG      also tag and push REG/<image>:V (then set docker.registry = REG)
#   containers/build.sh --sif DIR       also write DIR/<image>-V.img for Singularity/Apptainer
#                                       (use DIR as NXF_SINGULARITY_CACHEDIR / NXF_APPTAINER_CACHEDIR)
#   ENGINE=podman containers/build.sh   build with podman instead of docker
#   EXTRA_BUILD_ARGS="--network host ..."  extra flags for every build
set -euo pipefail

cd "$(dirname "$0")/.."
ENGINE="${ENGINE:-docker}"
VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' src/glmprobe/__init__.py)"
[[ -n "$VERSION" ]] || { echo "build.sh: cannot read __version__ from src/glmprobe/__init__.py" >&2; exit 2; }

cuda=0; registry=""; sif_dir=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --cuda) cuda=1; shift ;;
        --push) registry="${2:?--push needs a registry}"; shift 2 ;;
        --sif)  sif_dir="${2:?--sif needs a folder}"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
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

images=()
build glmprobe containers/Dockerfile --build-arg TORCH_VARIANT=cpu
build glmprobe-gpn containers/gpn/Dockerfile --build-arg "BASE_IMAGE=glmprobe:${VERSION}"
if [[ $cuda == 1 ]]; then
    build glmprobe-cuda containers/Dockerfile --build-arg TORCH_VARIANT=cu128
    build glmprobe-gpn-cuda containers/gpn/Dockerfile --build-arg "BASE_IMAGE=glmprobe-cuda:${VERSION}"
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
