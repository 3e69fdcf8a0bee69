#!/usr/bin/env bash
# Install what the Slurm tests need on this (Debian 12) machine: slurm-wlm (slurmctld, slurmd and the client
# commands), munge (its authentication) and openmpi-bin (mpirun for the multi-node MPI job). Idempotent: installs
# nothing where they are already there. The test cluster itself is brought up by the tests (tests/slurm/cluster.py)
# and needs root (network namespaces), which CI has.
set -euo pipefail
missing=()
for cmd in slurmctld slurmd sbatch munged mpirun ip nsenter unshare; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "[slurm.sh] slurm-wlm, munge and openmpi-bin are installed"
    exit 0
fi
[ "$(id -u)" = 0 ] || { echo "[slurm.sh] must run as root to install ${missing[*]}" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# no daemon starts at install time (policy-rc.d): the tests run their own
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d.slurm-ci
chmod +x /usr/sbin/policy-rc.d.slurm-ci
had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
[ $had_policy = 1 ] || cp /usr/sbin/policy-rc.d.slurm-ci /usr/sbin/policy-rc.d
apt-get install -y -qq --no-install-recommends slurm-wlm munge openmpi-bin iproute2 util-linux >/dev/null
[ $had_policy = 1 ] || rm -f /usr/sbin/policy-rc.d
rm -f /usr/sbin/policy-rc.d.slurm-ci
echo "[slurm.sh] installed: $(dpkg-query -W -f "${Package} ${Version}  " slurm-wlm munge openmpi-bin)"
