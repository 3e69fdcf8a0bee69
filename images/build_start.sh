# shellcheck shell=bash
# What the image build scripts (images/*/build.sh) share, sourced by them: their options, their log lines, and the
# early exit when the image exists already. `image_build_start TAG DEFAULT_IMAGE "$@"` sets IMAGE (tagged :latest
# when no tag is given), FORCE, LABELS (one KEY=VALUE per --label), START, STAGE (the stage image's tag) and CID.
# Sourcing it sets HERE (the build script's directory), REPO_ROOT and DOCKER (the docker command, $DOCKER or docker).

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKER="${DOCKER:-docker}"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[%s %s] %s\n' "$BUILD_TAG" "$(date +%H:%M:%S)" "$*"; }

image_build_start() {
    BUILD_TAG="$1"
    IMAGE="$2"
    shift 2
    FORCE=0
    LABELS=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --label) LABELS+=("${2:?--label needs KEY=VALUE}"); shift 2 ;;
            --force) FORCE=1; shift ;;
            -h|--help) sed -n '2,/^set -Eeuo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
            -*) echo "[$BUILD_TAG] ERROR: unknown option $1" >&2; exit 1 ;;
            *) IMAGE="$1"; shift ;;
        esac
    done
    case "$IMAGE" in *:*) ;; *) IMAGE="$IMAGE:latest" ;; esac
    if [ "$FORCE" = 0 ] && "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
        log "$IMAGE already exists; nothing to do (use --force to rebuild)"
        exit 0
    fi
    START=$(now)
    STAGE="${IMAGE%:*}:stage-$$"
    CID=""
}
