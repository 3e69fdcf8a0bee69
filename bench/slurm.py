"""Slurm executor overhead, one run of each on the same Slurm cluster:
1. seconds from `jobs.create(...).result()` to `succeeded` for a no-op 1-node job (custom toolkit `true`) through
   azure-mgmt-batchai 7.0.0 against `batchai-emulator serve --executor slurm`;
2. `sbatch --wait -N1 --exclusive --wrap true` of the same no-op, straight to Slurm.
The ratio 1/2 is the figure (goal <= 1.3x).

Run: sudo .venv/bin/python bench/slurm.py
It brings up the 3-node test cluster of tests/slurm/cluster.py (root; `.ci/slurm.sh` installs Slurm) and takes it
down after; with --partition NAME it uses the Slurm cluster the current PATH/SLURM_CONF reach instead.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.job_overhead import clients, setup  # noqa: E402
from azure.mgmt.batchai import models  # noqa: E402
from emulator.launcher import EmulatorProcess  # noqa: E402


def emulator_noop(env: dict, partition: str, tmp: Path) -> float:
    with EmulatorProcess(tmp / "data", "--executor", "slurm", "--slurm-partition", partition, "--allocation-delay",
                         "0", env={**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}) as emu:
        c, rm = clients(emu)
        cluster_id = setup(c, rm, 1)
        params = models.JobCreateParameters(
            cluster=models.ResourceId(id=cluster_id), node_count=1, std_out_err_path_prefix="/tmp/batchai-bench",
            custom_toolkit_settings=models.CustomToolkitSettings(command_line="true"))
        t0 = time.perf_counter()
        c.jobs.begin_create("rg", "ws", "exp", "noop", params).result()
        while True:
            job = c.jobs.get("rg", "ws", "exp", "noop")
            if job.execution_state in ("succeeded", "failed"):
                break
            time.sleep(0.02)
        took = time.perf_counter() - t0
        assert job.execution_state == "succeeded", job.execution_info
        return took


def sbatch_noop(env: dict, partition: str, tmp: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["sbatch", "--wait", "-p", partition, "-N1", "--exclusive", f"--output={tmp}/sbatch-%j.out",
                    "--wrap", "true"], check=True, env={**os.environ, **env}, capture_output=True, timeout=300)
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--partition", help="use the Slurm cluster PATH/SLURM_CONF reach (default: the test cluster)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="batchai-bench-slurm-") as t:
        tmp = Path(t)
        cluster = None
        if args.partition:
            env, partition = {}, args.partition
        else:
            from tests.slurm.cluster import PARTITION, SlurmTestCluster
            cluster = SlurmTestCluster(tmp / "cluster").up()
            env, partition = cluster.env(), PARTITION
        try:
            emulated = emulator_noop(env, partition, tmp)
            direct = sbatch_noop(env, partition, tmp)
        finally:
            if cluster is not None:
                cluster.down()
    print(f"no-op 1-node job, create -> succeeded through the emulator (--executor slurm): {emulated:.2f} s")
    print(f"the same no-op with sbatch --wait on the same cluster:                      {direct:.2f} s")
    print(f"ratio: {emulated / direct:.2f}x (goal <= 1.3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
