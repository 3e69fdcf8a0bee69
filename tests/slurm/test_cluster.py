"""The test cluster itself: three Slurm nodes in their own network namespaces, reached only through its commands."""
from __future__ import annotations

import time

from .cluster import GPUS_PER_NODE, NODES


def test_three_idle_nodes_with_gpus(slurm_cluster):
    assert slurm_cluster.node_states() == {n: "idle" for n in slurm_cluster.nodes}
    gres = slurm_cluster.command("sinfo", "-N", "-h", "-o", "%N %G").stdout.split()
    assert gres.count(f"gpu:{GPUS_PER_NODE}") == NODES


def test_a_two_node_job_runs_on_two_hosts(slurm_cluster, tmp_path):
    out = tmp_path / "out.txt"
    slurm_cluster.command("sbatch", "--wait", "-N2", "--exclusive", "--gres=gpu:2", f"--output={out}", "--wrap",
                          "srun -N2 --ntasks-per-node=1 sh -c 'echo $(hostname) $CUDA_VISIBLE_DEVICES'")
    lines = sorted(out.read_text().split("\n")[:2])
    assert lines == ["node1 0,1", "node2 0,1"], out.read_text()
