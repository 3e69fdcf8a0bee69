# The Batch AI emulator as an image; compose.yaml builds and runs it (`docker compose up`).
#
#   docker build -t batchai-emulator/emulator:latest .
#
# Jobs run in sibling containers started through the host's Docker socket (mounted by compose.yaml), so this image
# holds only the emulator, its Python dependencies and the docker SDK; job images are separate
# (images/README.md: batchai-emulator/trainer-cpu stands in for the quickstart's CNTK GPU image).
# BASE_IMAGE may be any Debian-like image whose `python` is 3.10+ with pip.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/batchai-emulator
# only what the package needs (see .dockerignore): the build does not depend on tests, venvs or data
COPY pyproject.toml README.md ./
COPY emulator ./emulator
COPY trainer ./trainer
COPY cloud ./cloud
RUN python -m pip install . && batchai-emulator serve --help > /dev/null

# In a container the emulator must listen on every interface (0.0.0.0): a server bound to the container's own
# loopback cannot be reached through published ports. compose.yaml publishes the ports on the host's loopback
# only, so the emulator stays private to this machine; it prints a warning about the non-loopback bind.
ENV BATCHAI_EMULATOR_HOST=0.0.0.0 \
    BATCHAI_EMULATOR_PORT=8080 \
    BATCHAI_EMULATOR_HTTPS_PORT=8443 \
    BATCHAI_EMULATOR_DATA_DIR=/var/lib/batchai-emulator
EXPOSE 8080 8443 10000

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_emulator/health' % os.environ.get('BATCHAI_EMULATOR_PORT', '8080'), timeout=4)"

# SIGTERM (docker stop) stops the emulator cleanly
CMD ["batchai-emulator", "serve"]
