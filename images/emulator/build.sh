#!/usr/bin/env bash
# Build batchai-emulator/emulator offline: the image compose.yaml runs (what the repository's Dockerfile builds on
# machines that can pull python:3.11-slim), from Debian bookworm's python3 and wheels made on this host.
#
#   sudo images/emulator/build.sh [--label KEY=VALUE] [--force] [IMAGE]
#
# 1. wheels of the project and its dependencies (`pip wheel .`, pinned by constraints.txt) and of pip itself,
#    made on the host in a temporary directory (the project changes with every commit: nothing is cached);
# 2. build_offline.sh makes a Debian stage image with python3 (debootstrap tree and .debs cached);
# 3. a container of the stage, with no network, installs the wheels with pip run from its own wheel;
# 4. the container is committed as IMAGE with the Dockerfile's ENV, EXPOSE, WORKDIR and CMD.
set -Eeuo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../build_start.sh"
PYTHON="${PYTHON:-python3}"
image_build_start emulator-image batchai-emulator/emulator:latest "$@"
WORK="$(mktemp -d /var/tmp/emulator-image.XXXXXX)"
cleanup() {
    [ -n "$CID" ] && "$DOCKER" rm -f "$CID" >/dev/null 2>&1 || true
    "$DOCKER" image rm "$STAGE" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$version" = 3.11 ] || { echo "[emulator-image] ERROR: $PYTHON is Python $version; the image's is 3.11" >&2; exit 1; }
t=$(now)
mkdir -p "$WORK/emulator/wheels" "$WORK/src"
# a copy of what the package needs (as .dockerignore lets through), so the build never writes into the checkout
cp -r "$REPO_ROOT/pyproject.toml" "$REPO_ROOT/README.md" "$REPO_ROOT/emulator" "$REPO_ROOT/trainer" \
    "$REPO_ROOT/cloud" "$WORK/src/"
"$PYTHON" -m venv "$WORK/pip-venv"
pip=("$WORK/pip-venv/bin/pip" --disable-pip-version-check --quiet)
"${pip[@]}" wheel --wheel-dir "$WORK/emulator/wheels" -c "$REPO_ROOT/constraints.txt" "$WORK/src"
"${pip[@]}" download --dest "$WORK/emulator/wheels" --no-deps --only-binary=:all: pip
log "wheels: $(ls "$WORK"/emulator/wheels/*.whl | wc -l) in $(elapsed "$t")s"

bash "$REPO_ROOT/images/build_offline.sh" --force --packages-file "$HERE/packages.txt" --workdir /opt/batchai-emulator \
    "$STAGE"

t=$(now)
cat > "$WORK/emulator/setup.sh" <<'SETUP'
set -Eeuo pipefail
W=/tmp/emulator
python3 "$(ls "$W"/wheels/pip-*.whl | head -n1)/pip" install --no-index --find-links "$W/wheels" \
    --break-system-packages --root-user-action=ignore --disable-pip-version-check --no-warn-script-location \
    --quiet batchai-emulator
batchai-emulator serve --help > /dev/null
rm -rf "$W" /root/.cache
SETUP
OLD_ID="$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
CID="$("$DOCKER" create --network none --label batchai-emulator.build=emulator "$STAGE" bash /tmp/emulator/setup.sh)"
"$DOCKER" cp "$WORK/emulator" "$CID:/tmp/"
if ! "$DOCKER" start --attach "$CID" 2>&1 | sed 's/^/    setup: /'; then
    echo "[emulator-image] ERROR: setup failed" >&2; exit 1
fi
[ "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$CID")" = 0 ] || { echo "[emulator-image] ERROR: setup failed" >&2; exit 1; }
# the Dockerfile's runtime settings (docker commit cannot set HEALTHCHECK: compose.yaml has its own)
CHANGES=(--change 'ENV PYTHONUNBUFFERED=1' --change 'ENV BATCHAI_EMULATOR_HOST=0.0.0.0'
         --change 'ENV BATCHAI_EMULATOR_PORT=8080' --change 'ENV BATCHAI_EMULATOR_HTTPS_PORT=8443'
         --change 'ENV BATCHAI_EMULATOR_DATA_DIR=/var/lib/batchai-emulator'
         --change 'EXPOSE 8080 8443 10000' --change 'WORKDIR /opt/batchai-emulator'
         --change 'CMD ["batchai-emulator", "serve"]')
for kv in "${LABELS[@]}"; do CHANGES+=(--change "LABEL $kv"); done
IMAGE_ID="$("$DOCKER" commit "${CHANGES[@]}" --message "batchai-emulator offline build: python3 + the project's wheels" \
    "$CID" "$IMAGE")"
log "setup: ran and committed in $(elapsed "$t")s"
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$IMAGE_ID" ]; then
    "$DOCKER" image rm "$OLD_ID" >/dev/null 2>&1 && log "removed the previous ${OLD_ID#sha256:}" || true
fi
log "done: $IMAGE, $(awk -v s="$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE")" 'BEGIN { printf "%.0f MB", s / 1e6 }'), total $(elapsed "$START")s"
