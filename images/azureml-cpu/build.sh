#!/usr/bin/env bash
# Build batchai-emulator/azureml-cpu offline: the image Azure ML runs of the emulator use in place of the
# estimators' base images (Debian bookworm's Python 3.11, numpy 1.26.4, chainer 7.8.1, azureml-core 1.61, and the
# offline MNIST digits in chainer's dataset layout under $CHAINER_DATASET_ROOT=/opt/chainer-dataset).
#
#   sudo images/azureml-cpu/build.sh [--label KEY=VALUE] [--force] [IMAGE]
#
# 1. wheels.sh fetches every wheel on this host (cached in $BATCHAI_IMAGE_CACHE/wheels/azureml-cpu);
# 2. build_offline.sh makes a Debian stage image with python3 (debootstrap tree and .debs cached);
# 3. a container of the stage, with no network, gets the wheels, requirements.txt, trainer/data.py and setup.sh
#    copied in and runs setup.sh (pip install from the wheels, the digits, the .pyc a run needs);
# 4. the container is committed as IMAGE (two layers: the Debian tree and the Python packages); the stage tag goes.
set -Eeuo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../build_start.sh"
CACHE="${BATCHAI_IMAGE_CACHE:-/var/cache/batchai-emulator/images}"
image_build_start azureml-cpu batchai-emulator/azureml-cpu:latest "$@"
cleanup() {
    [ -n "$CID" ] && "$DOCKER" rm -f "$CID" >/dev/null 2>&1 || true
    "$DOCKER" image rm "$STAGE" >/dev/null 2>&1 || true
}
trap cleanup EXIT

t=$(now)
WHEELS="$CACHE/wheels/azureml-cpu"
bash "$HERE/wheels.sh" "$WHEELS"
log "wheels: ready in $(elapsed "$t")s"

bash "$REPO_ROOT/images/build_offline.sh" --force --packages-file "$HERE/packages.txt" "$STAGE"

t=$(now)
OLD_ID="$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
CID="$("$DOCKER" create --network none --label batchai-emulator.build=azureml-cpu \
    --env CHAINER_DATASET_ROOT=/opt/chainer-dataset "$STAGE" bash /tmp/azureml-cpu/setup.sh)"
STAGING="$(mktemp -d /var/tmp/azureml-cpu.XXXXXX)"
mkdir "$STAGING/azureml-cpu"
cp "$HERE/requirements.txt" "$HERE/setup.sh" "$STAGING/azureml-cpu/"
cp "$REPO_ROOT/trainer/data.py" "$STAGING/azureml-cpu/data.py"
cp -r "$WHEELS" "$STAGING/azureml-cpu/wheels"
rm -rf "$STAGING/azureml-cpu/wheels/.pip-venv"
"$DOCKER" cp "$STAGING/azureml-cpu" "$CID:/tmp/"
rm -rf "$STAGING"
if ! "$DOCKER" start --attach "$CID" 2>&1 | sed 's/^/    setup: /'; then
    echo "[azureml-cpu] ERROR: setup.sh failed" >&2; exit 1
fi
[ "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$CID")" = 0 ] || { echo "[azureml-cpu] ERROR: setup.sh failed" >&2; exit 1; }
CHANGES=(--change 'ENV CHAINER_DATASET_ROOT=/opt/chainer-dataset' --change 'CMD ["/bin/bash"]'
         --change 'WORKDIR /workspace')
for kv in "${LABELS[@]}"; do CHANGES+=(--change "LABEL $kv"); done
IMAGE_ID="$("$DOCKER" commit "${CHANGES[@]}" \
    --message "batchai-emulator offline build: python3 + pip wheels of images/azureml-cpu/requirements.txt" \
    "$CID" "$IMAGE")"
log "setup: ran and committed in $(elapsed "$t")s"
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$IMAGE_ID" ]; then
    "$DOCKER" image rm "$OLD_ID" >/dev/null 2>&1 && log "removed the previous ${OLD_ID#sha256:}" || true
fi
SIZE="$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE")"
log "done: $IMAGE, $(awk -v s="$SIZE" 'BEGIN { printf "%.0f MB", s / 1e6 }'), total $(elapsed "$START")s"
