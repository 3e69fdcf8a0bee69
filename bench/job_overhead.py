"""Job overhead. In one run:
1. seconds from `jobs.create(...).result()` to `succeeded` for a no-op job (custom toolkit `true`) through
   azure-mgmt-batchai 7.0.0, against `docker run` of the same image and command through the docker SDK (create,
   start, wait, remove); the ratio is the figure (goal <= 1.3x);
2. jobs/s for N no-op jobs on a 4-node cluster, with the highest number of jobs seen running at once (must never
   exceed 4), sampled from the job states and from the engine's containers.

Run: .venv/bin/python bench/job_overhead.py [--jobs 200] [--repeat 10]; needs Docker and the CPU image
(sudo bash .ci/docker.sh).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import docker
from azure.mgmt.batchai import models

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from emulator.settings import CPU_IMAGE  # noqa: E402
from bench.sdk import clients, setup  # noqa: E402
from emulator.launcher import EmulatorProcess  # noqa: E402

IMAGE = CPU_IMAGE


def job_params(cluster_id: str):
    return models.JobCreateParameters(
        cluster=models.ResourceId(id=cluster_id), node_count=1, std_out_err_path_prefix="/tmp/batchai-bench",
        container_settings=models.ContainerSettings(image_source_registry=models.ImageSourceRegistry(image=IMAGE)),
        custom_toolkit_settings=models.CustomToolkitSettings(command_line="true"))


def one_job(c, cluster_id: str, name: str) -> float:
    t0 = time.perf_counter()
    c.jobs.begin_create("rg", "ws", "exp", name, job_params(cluster_id)).result()
    while True:
        state = c.jobs.get("rg", "ws", "exp", name).execution_state
        if state in ("succeeded", "failed"):
            break
        time.sleep(0.005)
    took = time.perf_counter() - t0
    assert state == "succeeded", state
    return took


def docker_run(client) -> float:
    t0 = time.perf_counter()
    container = client.containers.create(IMAGE, ["/bin/sh", "-c", "true"])
    container.start()
    code = container.wait()["StatusCode"]
    container.remove(force=True)
    took = time.perf_counter() - t0
    assert code == 0
    return took


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--jobs", type=int, default=200)
    p.add_argument("--repeat", type=int, default=10)
    args = p.parse_args()
    engine = docker.from_env()
    engine.images.get(IMAGE)
    with EmulatorProcess(Path(tempfile.mkdtemp(prefix="batchai-bench-")) / "data", "--executor", "docker",
                         "--gpus", "none", "--allocation-delay", "0") as emu:
        c, rm = clients(emu)
        cluster_id = setup(c, rm, 4)
        one_job(c, cluster_id, "warmup")
        docker_run(engine)
        ours, theirs = [], []
        for i in range(args.repeat):  # interleaved, so machine noise hits both alike
            ours.append(one_job(c, cluster_id, f"noop-{i}"))
            theirs.append(docker_run(engine))
        o, t = statistics.median(ours), statistics.median(theirs)
        print(f"no-op job, median of {args.repeat}: emulator create->succeeded {o:.3f} s; "
              f"docker SDK run (create/start/wait/remove) {t:.3f} s; ratio {o / t:.2f}x (goal <= 1.3x)")

        names = [f"batch-{i}" for i in range(args.jobs)]
        peak = {"states": 0, "containers": 0}
        done = threading.Event()

        def sample():
            while not done.is_set():
                running = sum(1 for j in c.jobs.list_by_experiment("rg", "ws", "exp")
                              if j.execution_state == "running")
                live = len(engine.api.containers(filters={"label": "batchai.emulator.job", "status": "running"}))
                peak["states"] = max(peak["states"], running)
                peak["containers"] = max(peak["containers"], live)
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        t0 = time.perf_counter()
        sampler.start()
        for name in names:
            c.jobs.begin_create("rg", "ws", "exp", name, job_params(cluster_id)).result()
        while True:
            states = [j.execution_state for j in c.jobs.list_by_experiment("rg", "ws", "exp")
                      if j.name.startswith("batch-")]
            if len(states) == args.jobs and all(s in ("succeeded", "failed") for s in states):
                break
            time.sleep(0.1)
        took = time.perf_counter() - t0
        done.set()
        sampler.join()
        failed = states.count("failed")
        print(f"{args.jobs} no-op jobs on a 4-node cluster: {took:.1f} s, {args.jobs / took:.2f} jobs/s, "
              f"{failed} failed; most running at once: {peak['states']} by job state, {peak['containers']} "
              f"containers (must never exceed 4)")
        return 0 if max(peak.values()) <= 4 and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
