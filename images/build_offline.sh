#!/usr/bin/env bash
# Build a Docker image without pulling anything from a container registry:
# a Debian root filesystem is made with debootstrap (or taken from an image
# that already exists locally), packages are added with apt-get inside a
# chroot, and the tree is piped as a tar into `docker import`.
#
# Only the Debian mirror that apt already uses on this machine is needed.
#
# Usage (as root):
#   images/build_offline.sh [options] IMAGE[:TAG] [PACKAGE...]
#
# Options:
#   --from IMAGE       start from the filesystem of an existing local image
#                      (docker create + docker export) instead of debootstrap
#   --env KEY=VALUE    extra ENV for the image config (repeatable)
#   --workdir DIR      WORKDIR of the image (default /workspace)
#   --packages-file F  read more package names from F (# comments allowed)
#   --force            build even if IMAGE already exists
#   -h, --help         show this help
#
# Environment:
#   SUITE                 Debian suite (default bookworm)
#   MIRROR                Debian mirror (default: the one in this host's apt sources,
#                         else http://deb.debian.org/debian)
#   SECURITY_MIRROR       security mirror (default: from host apt sources,
#                         else http://deb.debian.org/debian-security)
#   BATCHAI_IMAGE_CACHE   cache directory (default /var/cache/batchai-emulator/images):
#                         .debs, apt lists and the pristine debootstrap rootfs are
#                         kept there so a rebuild downloads and debootstraps nothing.
#   DOCKER                docker CLI to use (default: docker)
set -Eeuo pipefail

SUITE="${SUITE:-bookworm}"
CACHE="${BATCHAI_IMAGE_CACHE:-/var/cache/batchai-emulator/images}"
DOCKER="${DOCKER:-docker}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
PATH_VALUE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[build_offline %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[build_offline] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

usage() { sed -n '2,/^set -Eeuo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

FROM_IMAGE=""
WORKDIR=/workspace
FORCE=0
declare -a EXTRA_ENV=()
declare -a EXTRA_LABELS=()
declare -a PACKAGES=()
IMAGE=""

while [ $# -gt 0 ]; do
    case "$1" in
        --from) FROM_IMAGE="${2:?--from needs an image}"; shift 2 ;;
        --env) EXTRA_ENV+=("${2:?--env needs KEY=VALUE}"); shift 2 ;;
        --label) EXTRA_LABELS+=("${2:?--label needs KEY=VALUE}"); shift 2 ;;
        --workdir) WORKDIR="${2:?--workdir needs a path}"; shift 2 ;;
        --packages-file)
            [ -r "${2:?--packages-file needs a file}" ] || die "cannot read $2"
            while read -r line; do
                line="${line%%#*}"
                for p in $line; do PACKAGES+=("$p"); done
            done < "$2"
            shift 2 ;;
        --force) FORCE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; break ;;
        -*) die "unknown option $1 (see --help)" ;;
        *)
            if [ -z "$IMAGE" ]; then IMAGE="$1"; else PACKAGES+=("$1"); fi
            shift ;;
    esac
done
for p in "$@"; do
    if [ -z "$IMAGE" ]; then IMAGE="$p"; else PACKAGES+=("$p"); fi
done
[ -n "$IMAGE" ] || { usage >&2; die "no image name given"; }
case "$IMAGE" in *:*) ;; *) IMAGE="$IMAGE:latest" ;; esac

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot need it)"
command -v "$DOCKER" >/dev/null || die "docker CLI '$DOCKER' not found"
"$DOCKER" info >/dev/null 2>&1 || die "no Docker engine answers (run .ci/docker.sh first)"

if [ "$FORCE" = 0 ] && "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE already exists; nothing to do (use --force to rebuild)"
    exit 0
fi

# --- mirrors: reuse what apt on this host is configured with -------------------
host_uri() { # $1: regex the URI must match
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        grep -hoE '(https?|file)://[^ ]+' "$f" 2>/dev/null | grep -E "$1" | head -n1 || true
    done | head -n1
    return 0
}
MIRROR="${MIRROR:-$(host_uri '/debian/?$')}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${SECURITY_MIRROR:-$(host_uri '/debian-security/?$')}"
SECURITY_MIRROR="${SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
MIRROR="${MIRROR%/}"; SECURITY_MIRROR="${SECURITY_MIRROR%/}"

DEB_CACHE="$CACHE/debs/$SUITE"
LIST_CACHE="$CACHE/lists/$SUITE"
BASE_TAR="$CACHE/rootfs/$SUITE-minbase.tar"
mkdir -p "$DEB_CACHE/partial" "$LIST_CACHE/partial" "$CACHE/rootfs"

OLD_ID="$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
BUILD_START=$(now)
log "image $IMAGE (suite $SUITE, mirror $MIRROR, cache $CACHE)"
log "packages: ${PACKAGES[*]:-(none)}"

WORK="$(mktemp -d /var/tmp/batchai-rootfs.XXXXXX)"
ROOTFS="$WORK/rootfs"
mkdir -p "$ROOTFS"

unmount_all() {
    # Deepest first; never leave a bind mount behind before removing the tree.
    local m
    for m in $(awk -v r="$ROOTFS" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
}
cleanup() {
    local rc=$?
    unmount_all
    if awk -v r="$ROOTFS" '$2 == r || index($2, r "/") == 1 { found = 1 } END { exit !found }' /proc/mounts; then
        printf '[build_offline] WARNING: mounts remain under %s; not deleting it\n' "$ROOTFS" >&2
    else
        rm -rf --one-file-system "$WORK"
    fi
    [ -n "${TMP_CID:-}" ] && "$DOCKER" rm -f "$TMP_CID" >/dev/null 2>&1 || true
    if [ $rc -ne 0 ]; then printf '[build_offline] FAILED building %s (exit %s)\n' "$IMAGE" "$rc" >&2; fi
}
trap cleanup EXIT

# --- 1. root filesystem ---------------------------------------------------------
t=$(now)
if [ -n "$FROM_IMAGE" ]; then
    "$DOCKER" image inspect "$FROM_IMAGE" >/dev/null 2>&1 || die "base image $FROM_IMAGE does not exist"
    log "rootfs: exporting the filesystem of $FROM_IMAGE"
    TMP_CID="$("$DOCKER" create "$FROM_IMAGE" /bin/true)"
    "$DOCKER" export "$TMP_CID" | tar -C "$ROOTFS" --numeric-owner -xf -
    "$DOCKER" rm -f "$TMP_CID" >/dev/null; TMP_CID=""
    log "rootfs: exported in $(elapsed "$t")s"
elif [ -s "$BASE_TAR" ]; then
    log "rootfs: reusing cached debootstrap result $BASE_TAR"
    tar -C "$ROOTFS" --numeric-owner -xf "$BASE_TAR"
    log "rootfs: extracted in $(elapsed "$t")s"
else
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    log "rootfs: debootstrap --variant=minbase $SUITE from $MIRROR"
    keyring_opt=()
    [ -r "$KEYRING" ] && keyring_opt=(--keyring="$KEYRING")
    if ! debootstrap --variant=minbase "${keyring_opt[@]}" --cache-dir="$DEB_CACHE" \
            "$SUITE" "$ROOTFS" "$MIRROR" > "$WORK/debootstrap.log" 2>&1; then
        tail -n 40 "$WORK/debootstrap.log" >&2
        [ -r "$ROOTFS/debootstrap/debootstrap.log" ] && tail -n 40 "$ROOTFS/debootstrap/debootstrap.log" >&2
        die "debootstrap failed"
    fi
    unmount_all   # debootstrap leaves nothing mounted normally; be sure
    # Cache the pristine tree so the next build skips debootstrap.
    tar -C "$ROOTFS" --numeric-owner -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
    log "rootfs: debootstrap done in $(elapsed "$t")s (cached as $BASE_TAR)"
fi

# --- 2. configure the tree and install packages in a chroot ---------------------
t=$(now)
cat > "$ROOTFS/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
rm -f "${ROOTFS:?}"/etc/apt/sources.list.d/*.list "${ROOTFS:?}"/etc/apt/sources.list.d/*.sources

# Keep docs, man pages and translations out of the image (copyrights stay).
mkdir -p "$ROOTFS/etc/dpkg/dpkg.cfg.d" "$ROOTFS/etc/apt/apt.conf.d"
cat > "$ROOTFS/etc/dpkg/dpkg.cfg.d/01-batchai-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
cat > "$ROOTFS/etc/apt/apt.conf.d/01-batchai" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
# No service may start inside the chroot.
printf '#!/bin/sh\nexit 101\n' > "$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
# Name resolution for apt inside the chroot (emptied again before import).
rm -f "$ROOTFS/etc/resolv.conf"
cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true

mkdir -p "$ROOTFS/proc" "$ROOTFS/dev" "$ROOTFS/var/cache/apt/archives" "$ROOTFS/var/lib/apt/lists"
mount -t proc proc "$ROOTFS/proc"
mount --bind /dev "$ROOTFS/dev"
mount --bind "$DEB_CACHE" "$ROOTFS/var/cache/apt/archives"
mount --bind "$LIST_CACHE" "$ROOTFS/var/lib/apt/lists"

in_chroot() {
    chroot "$ROOTFS" /usr/bin/env -i PATH="$PATH_VALUE" HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive "$@"
}
APT_OPTS=(-o APT::Sandbox::User=root -o Dpkg::Use-Pty=0 -o Binary::apt-get::APT::Keep-Downloaded-Packages=true)
in_chroot apt-get "${APT_OPTS[@]}" -qq update
in_chroot apt-get "${APT_OPTS[@]}" -y -qq upgrade > "$WORK/apt.log" 2>&1 || { tail -n 40 "$WORK/apt.log" >&2; die "apt-get upgrade failed"; }
if [ ${#PACKAGES[@]} -gt 0 ]; then
    in_chroot apt-get "${APT_OPTS[@]}" -y -q install --no-install-recommends "${PACKAGES[@]}" \
        > "$WORK/apt.log" 2>&1 || { tail -n 40 "$WORK/apt.log" >&2; die "apt-get install failed"; }
    grep -E '^(Need to get|After this operation|[0-9]+ upgraded)' "$WORK/apt.log" | sed 's/^/    apt: /' || true
fi
# `python` must work, not only `python3`, even when python-is-python3 is absent.
if [ -x "$ROOTFS/usr/bin/python3" ] && [ ! -e "$ROOTFS/usr/bin/python" ]; then
    ln -s python3 "$ROOTFS/usr/bin/python"
fi
# (no `apt-get clean` here: the archives dir is the shared .deb cache)
unmount_all
if awk -v r="$ROOTFS" 'index($2, r "/") == 1 { found = 1 } END { exit !found }' /proc/mounts; then
    die "could not unmount everything under $ROOTFS"
fi
log "packages: installed in $(elapsed "$t")s"

# --- 3. trim ---------------------------------------------------------------------
t=$(now)
rm -f "$ROOTFS/usr/sbin/policy-rc.d"
: > "$ROOTFS/etc/resolv.conf"          # Docker provides its own at run time
echo localhost > "$ROOTFS/etc/hostname"
rm -rf "${ROOTFS:?}"/var/lib/apt/lists/* "${ROOTFS:?}"/var/cache/apt/*.bin "${ROOTFS:?}"/var/cache/apt/archives/* \
       "${ROOTFS:?}"/var/cache/debconf/*-old "${ROOTFS:?}"/var/lib/dpkg/*-old \
       "${ROOTFS:?}"/var/log/apt/* "${ROOTFS:?}"/var/log/*.log "${ROOTFS:?}"/tmp/* "${ROOTFS:?}"/var/tmp/* \
       "${ROOTFS:?}"/debootstrap 2>/dev/null || true
mkdir -p "$ROOTFS/var/lib/apt/lists/partial" "$ROOTFS/var/cache/apt/archives/partial"
find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "${ROOTFS:?}"/usr/share/man/* "${ROOTFS:?}"/usr/share/info/* "${ROOTFS:?}"/usr/share/lintian "${ROOTFS:?}"/usr/share/linda
find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
# Mount points Docker fills at run time are shipped empty; drop what an exported
# container carries (/.dockerenv).
rm -f "$ROOTFS/.dockerenv"
rm -rf "${ROOTFS:?}"/dev/* "${ROOTFS:?}"/proc/* "${ROOTFS:?}"/sys/* "${ROOTFS:?}"/run/* 2>/dev/null || true
[ -n "$WORKDIR" ] && mkdir -p "$ROOTFS/$WORKDIR"
log "trim: done in $(elapsed "$t")s ($(du -sh --one-file-system "$ROOTFS" | cut -f1) on disk)"

# --- 4. import ---------------------------------------------------------------------
t=$(now)
CHANGES=(
    --change "ENV PATH=$PATH_VALUE"
    --change "ENV LANG=C.UTF-8"
    --change "ENV PYTHONUNBUFFERED=1"
    --change 'CMD ["/bin/bash"]'
)
[ -n "$WORKDIR" ] && CHANGES+=(--change "WORKDIR $WORKDIR")
for kv in "${EXTRA_ENV[@]}"; do CHANGES+=(--change "ENV $kv"); done
for kv in "${EXTRA_LABELS[@]}"; do CHANGES+=(--change "LABEL $kv"); done
source_desc="debootstrap $SUITE minbase"
[ -n "$FROM_IMAGE" ] && source_desc="from $FROM_IMAGE"
IMAGE_ID="$(tar -C "$ROOTFS" --numeric-owner -cf - . \
    | "$DOCKER" import "${CHANGES[@]}" \
        --message "batchai-emulator offline build ($source_desc) + ${PACKAGES[*]:-nothing}" - "$IMAGE")"
SIZE="$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE")"
# A forced rebuild leaves the previous image untagged; drop it unless it is in use.
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$IMAGE_ID" ]; then
    "$DOCKER" image rm "$OLD_ID" >/dev/null 2>&1 && log "import: removed the previous ${OLD_ID#sha256:}" || true
fi
log "import: $IMAGE -> ${IMAGE_ID#sha256:} in $(elapsed "$t")s"
log "done: $IMAGE, $(awk -v s="$SIZE" 'BEGIN { printf "%.0f MB", s / 1e6 }'), total $(elapsed "$BUILD_START")s"
