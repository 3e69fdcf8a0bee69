#!/usr/bin/env bash
# Bring up a Docker engine on this (Debian 12) machine and build the job images
# the e2e tests use. Idempotent: on a machine where it already ran it installs
# nothing, leaves a running engine alone and skips images that exist.
#
#   sudo bash .ci/docker.sh
#
# Fails (non-zero) if the engine cannot be brought up or an image cannot be
# built: CI must fail rather than skip Docker tests.
#
# Environment knobs:
#   DOCKERD_LOG                 dockerd log file (default /tmp/dockerd.log)
#   DOCKERD_START_TIMEOUT       seconds to wait for an engine to answer (default 60)
#   BATCHAI_DOCKER_STORAGE_DRIVER  storage driver(s) to try, in order, instead of
#                               "overlay2 fuse-overlayfs vfs" (all three work here;
#                               overlay2 is the fast one)
#   BATCHAI_REBUILD_IMAGES=1    rebuild the images even if they exist
#   BATCHAI_IMAGE_CACHE         builder cache (see images/build_offline.sh)
set -Eeuo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKERD_LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
DOCKERD_START_TIMEOUT="${DOCKERD_START_TIMEOUT:-60}"
TRAINER_IMAGE=batchai-emulator/trainer-cpu:latest
MPI_IMAGE=batchai-emulator/mpi-cpu:latest
AML_IMAGE=batchai-emulator/azureml-cpu:latest
EMULATOR_IMAGE=batchai-emulator/emulator:latest

SCRIPT_START=$(date +%s.%N)
log() { printf '[docker.sh %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[docker.sh] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
on_exit() {
    local rc=$?
    if [ $rc -ne 0 ]; then
        printf '[docker.sh] FAILED (exit %s) after %ss\n' "$rc" "$(elapsed "$SCRIPT_START")" >&2
    fi
}
trap on_exit EXIT

[ "$(id -u)" = 0 ] || die "must run as root (try: sudo bash .ci/docker.sh)"

# --- 1. packages -----------------------------------------------------------------
APT_UPDATED=0
apt_install() { # packages that are not installed yet
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "packages: all present ($*)"
        return 0
    fi
    local t
    if [ "$APT_UPDATED" = 0 ]; then
        t=$(now)
        log "packages: apt-get update"
        apt-get update -q > /tmp/docker-sh-apt-update.log 2>&1 \
            || { cat /tmp/docker-sh-apt-update.log >&2; die "apt-get update failed"; }
        APT_UPDATED=1
        log "packages: apt-get update took $(elapsed "$t")s"
    fi
    t=$(now)
    log "packages: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
        > /tmp/docker-sh-apt-install.log 2>&1 \
        || { tail -n 40 /tmp/docker-sh-apt-install.log >&2; die "apt-get install ${missing[*]} failed"; }
    log "packages: installed ${missing[*]} in $(elapsed "$t")s"
}

# docker.io brings dockerd, containerd, runc and iptables; debootstrap builds the images.
apt_install docker.io debootstrap iptables ca-certificates debian-archive-keyring tar
# docker-compose (v1; bookworm has no compose v2 package) validates compose.yaml in the tests
apt_install docker-compose
command -v dockerd >/dev/null || die "dockerd not found after installing docker.io"
command -v docker >/dev/null || die "docker CLI not found"

# --- 2. engine ---------------------------------------------------------------------
engine_answers() { timeout 15 docker info >/dev/null 2>&1; }

dockerd_pid() { # pid of a live dockerd, if any
    local pid
    pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; return 0; fi
    pgrep -x dockerd 2>/dev/null | head -n1 || true
}

wait_for_engine() { # $1: pid of the dockerd we started (optional); returns 0 when it answers
    local pid="${1:-}" deadline=$(( $(date +%s) + DOCKERD_START_TIMEOUT ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        engine_answers && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1   # dockerd exited
        fi
        sleep 0.5
    done
    return 1
}

start_dockerd() { # $1: storage driver; sets STARTED_PID
    local driver="$1" args=()
    if grep -qs '"storage-driver"' /etc/docker/daemon.json; then
        log "engine: /etc/docker/daemon.json sets storage-driver; not overriding it"
    else
        args+=(--storage-driver="$driver")
    fi
    printf '\n===== %s: dockerd %s =====\n' "$(date -Is)" "${args[*]}" >> "$DOCKERD_LOG"
    setsid nohup dockerd "${args[@]}" >> "$DOCKERD_LOG" 2>&1 < /dev/null &
    STARTED_PID=$!
}

t=$(now)
if engine_answers; then
    log "engine: already answering; leaving it as it is"
else
    existing="$(dockerd_pid)"
    if [ -n "$existing" ]; then
        log "engine: dockerd (pid $existing) is running but not answering yet; waiting up to ${DOCKERD_START_TIMEOUT}s"
        wait_for_engine "$existing" \
            || die "dockerd pid $existing runs but 'docker info' never answered (see $DOCKERD_LOG); stop it and re-run"
    else
        if [ -n "${BATCHAI_DOCKER_STORAGE_DRIVER:-}" ]; then
            read -ra drivers <<< "$BATCHAI_DOCKER_STORAGE_DRIVER"
        else
            drivers=(overlay2 fuse-overlayfs vfs)
        fi
        up=0
        for driver in "${drivers[@]}"; do
            if [ "$driver" = fuse-overlayfs ]; then
                [ -e /dev/fuse ] || { log "engine: no /dev/fuse; skipping fuse-overlayfs"; continue; }
                apt_install fuse-overlayfs
            fi
            log "engine: starting dockerd with storage driver $driver (log: $DOCKERD_LOG)"
            log_lines=0; [ -f "$DOCKERD_LOG" ] && log_lines=$(wc -l < "$DOCKERD_LOG")
            start_dockerd "$driver"
            if wait_for_engine "$STARTED_PID"; then
                up=1
                break
            fi
            log "engine: dockerd with $driver did not come up; last log lines:"
            tail -n +"$((log_lines + 1))" "$DOCKERD_LOG" | tail -n 15 | sed 's/^/    /' >&2
            if kill -0 "$STARTED_PID" 2>/dev/null; then
                kill "$STARTED_PID" 2>/dev/null || true
                for _ in $(seq 1 20); do kill -0 "$STARTED_PID" 2>/dev/null || break; sleep 0.5; done
            fi
        done
        [ "$up" = 1 ] || die "no Docker engine could be started (tried: ${drivers[*]}); see $DOCKERD_LOG"
        log "engine: dockerd pid $STARTED_PID answers"
    fi
fi
log "engine: ready in $(elapsed "$t")s: $(docker info --format 'server {{.ServerVersion}}, storage driver {{.Driver}}, cgroup {{.CgroupDriver}} v{{.CgroupVersion}}' 2>/dev/null)"

# --- 3. images ------------------------------------------------------------------------
BUILD=("$REPO_ROOT/images/build_offline.sh")
[ "${BATCHAI_REBUILD_IMAGES:-0}" = 1 ] && BUILD+=(--force)

# An image is rebuilt when its recipe changes: the builder, its package list and its arguments are hashed
# into the label batchai.recipe, so a changed packages.txt reaches machines that already have the image.
recipe_of() { # builder args...
    local files=("$REPO_ROOT/images/build_offline.sh") a prev=""
    for a in "$@"; do
        [ "$prev" = "--packages-file" ] && files+=("$a")
        [ "$prev" = "--from" ] && printf '%s\n' "$(docker image inspect -f '{{index .Config.Labels "batchai.recipe"}}' "$a" 2>/dev/null)"
        prev="$a"
    done
    # arguments without the checkout's own path, so every clone of one commit has the same recipe
    { printf '%s\n' "${@//$REPO_ROOT/}"; cat "${files[@]}"; } | sha256sum | cut -c1-16
}

build_image() { # IMAGE [builder args...]
    local image="$1"; shift
    local t; t=$(now)
    local recipe; recipe="$(recipe_of "$@" | sha256sum | cut -c1-16)"
    local have; have="$(docker image inspect -f '{{index .Config.Labels "batchai.recipe"}}' "$image" 2>/dev/null || true)"
    if [ "${BATCHAI_REBUILD_IMAGES:-0}" != 1 ] && [ "$have" = "$recipe" ]; then
        log "image: $image is up to date (recipe $recipe); skipping build"
        return 0
    fi
    log "image: building $image (recipe $recipe, had '${have:-none}')"
    bash "${BUILD[@]}" --force --label "batchai.recipe=$recipe" "$@" "$image" || die "building $image failed"
    log "image: $image built in $(elapsed "$t")s"
}

build_image "$TRAINER_IMAGE" --packages-file "$REPO_ROOT/images/trainer-cpu/packages.txt"
# mpirun refuses to run as root without these; CMA single-copy needs ptrace, which
# Docker's default seccomp/capabilities forbid.
build_image "$MPI_IMAGE" --from "$TRAINER_IMAGE" \
    --packages-file "$REPO_ROOT/images/mpi-cpu/packages.txt" \
    --env OMPI_ALLOW_RUN_AS_ROOT=1 --env OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    --env OMPI_MCA_btl_vader_single_copy_mechanism=none

# build_recipe_image IMAGE RECIPE BUILD_SCRIPT: `BUILD_SCRIPT --force --label batchai.recipe=RECIPE IMAGE` unless
# IMAGE carries that recipe label already (BATCHAI_REBUILD_IMAGES=1 always builds)
build_recipe_image() {
    local image="$1" recipe="$2" script="$3" have t
    have="$(docker image inspect -f '{{index .Config.Labels "batchai.recipe"}}' "$image" 2>/dev/null || true)"
    if [ "${BATCHAI_REBUILD_IMAGES:-0}" != 1 ] && [ "$have" = "$recipe" ]; then
        log "image: $image is up to date (recipe $recipe); skipping build"
        return 0
    fi
    t=$(now)
    log "image: building $image (recipe $recipe, had '${have:-none}')"
    bash "$script" --force --label "batchai.recipe=$recipe" "$image" || die "building $image failed"
    log "image: $image built in $(elapsed "$t")s"
}

# Azure ML runs: Debian's python3 + numpy 1.26.4, chainer 7.8.1 and azureml-core from wheels fetched on this host
# (the build container has no network), with the offline MNIST digits in chainer's dataset layout.
AML_DIR="$REPO_ROOT/images/azureml-cpu"
aml_recipe="$(cat "$REPO_ROOT/images/build_offline.sh" "$REPO_ROOT/images/build_start.sh" "$AML_DIR/build.sh" \
    "$AML_DIR/wheels.sh" "$AML_DIR/setup.sh" "$AML_DIR/packages.txt" "$AML_DIR/requirements.txt" "$REPO_ROOT/trainer/data.py" | sha256sum | cut -c1-16)"
build_recipe_image "$AML_IMAGE" "$aml_recipe" "$AML_DIR/build.sh"

# The emulator's own image for compose.yaml (the Dockerfile needs python:3.11-slim from Docker Hub): Debian's
# python3 + wheels of this checkout built on the host. Its recipe includes the package's sources, so a commit that
# changes the emulator rebuilds it and one that does not reuses it.
EMU_DIR="$REPO_ROOT/images/emulator"
emu_recipe="$( { cat "$REPO_ROOT/images/build_offline.sh" "$REPO_ROOT/images/build_start.sh" "$EMU_DIR/build.sh" \
    "$EMU_DIR/packages.txt" "$REPO_ROOT/constraints.txt" "$REPO_ROOT/pyproject.toml";
    cd "$REPO_ROOT" && find emulator cloud trainer -type f -not -path '*/__pycache__/*' -not -name '*.pyc' \
        | LC_ALL=C sort | while read -r f; do printf '%s\n' "$f"; cat "$f"; done; } | sha256sum | cut -c1-16)"
build_recipe_image "$EMULATOR_IMAGE" "$emu_recipe" "$EMU_DIR/build.sh"

for image in "$TRAINER_IMAGE" "$MPI_IMAGE" "$AML_IMAGE" "$EMULATOR_IMAGE"; do
    log "image: $image $(docker image inspect -f '{{.Id}} {{.Size}}' "$image" \
        | awk '{ printf "%s, %.0f MB", substr($1, 8, 12), $2 / 1e6 }')"
done

# --- 4. smoke test: the engine can really start a container ------------------------
t=$(now)
smoke="$(timeout 120 docker run --rm "$TRAINER_IMAGE" \
    python -c 'import numpy, sys; print(sys.version_info[:2], numpy.__version__)' 2>&1)" \
    || die "the engine answers but cannot run a container: $smoke (see $DOCKERD_LOG)"
log "smoke: docker run $TRAINER_IMAGE python -> $smoke in $(elapsed "$t")s"
log "done in $(elapsed "$SCRIPT_START")s"
