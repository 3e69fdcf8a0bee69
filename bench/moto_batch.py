"""Job start overhead against moto's AWS Batch. In one run, interleaved:
1. the emulator (Docker executor): `jobs.begin_create` of a no-op job (custom toolkit `true`) -> `succeeded`,
   through azure-mgmt-batchai 7.0.0;
2. moto's AWS Batch in server mode (its Docker-backed Batch: one container per job on the same engine):
   `submit_job` of a job definition running `/bin/sh -c true` -> `SUCCEEDED`, through boto3;
3. `docker run` of the same image and command through the docker SDK, on the default bridge and on the host
   network (what any container start costs here);
all on the image batchai-emulator/trainer-cpu:latest, each client polling every 5 ms. The ratio emulator/moto is
the figure (goal <= 1.0x).

moto lives in its own venv (.venv-moto, `make .venv-moto/.installed`): botocore pins python-dateutil<3 and the
main venv has a newer one. moto listens on 127.0.0.1 only, with fake credentials.

Run: .venv/bin/python bench/moto_batch.py [--repeat 10]; needs Docker and the CPU image (sudo bash .ci/docker.sh).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.job_overhead import IMAGE, docker_run, one_job  # noqa: E402
from bench.sdk import clients, setup  # noqa: E402
from emulator.launcher import EmulatorProcess, free_port  # noqa: E402

MOTO = ROOT / ".venv-moto" / "bin"

# runs in the moto venv: set up a queue once, then time one job per line read from stdin
MOTO_CLIENT = r'''
import json, sys, time
import boto3
url, image, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
iam, batch = boto3.client("iam", **kw), boto3.client("batch", **kw)
role = iam.create_role(RoleName="batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
ce = batch.create_compute_environment(computeEnvironmentName="bench-ce", type="UNMANAGED", state="ENABLED",
                                      serviceRole=role)["computeEnvironmentArn"]
batch.create_job_queue(jobQueueName="bench-q", state="ENABLED", priority=1,
                       computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])
batch.register_job_definition(jobDefinitionName="noop", type="container", containerProperties={
    "image": image, "command": ["/bin/sh", "-c", "true"], "vcpus": 1, "memory": 128})
print("ready", flush=True)
for line in sys.stdin:
    name = prefix + line.strip()
    t0 = time.perf_counter()
    job = batch.submit_job(jobName=name, jobQueue="bench-q", jobDefinition="noop")["jobId"]
    while True:
        status = batch.describe_jobs(jobs=[job])["jobs"][0]["status"]
        if status in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.005)
    print(json.dumps({"seconds": time.perf_counter() - t0, "status": status}), flush=True)
'''


class Moto:
    """moto_server on a free loopback port, and the boto3 client process that times jobs against it."""

    def __init__(self, prefix: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(tempfile.mkdtemp(prefix="batchai-moto-")) / "moto.log", "wb")
        self.server = subprocess.Popen([str(MOTO / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                                       stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(self.url + "/moto-api/", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or self.server.poll() is not None:
                    raise RuntimeError(f"moto_server did not start (see {self.log.name})")
                time.sleep(0.1)
        self.client = subprocess.Popen([str(MOTO / "python"), "-c", MOTO_CLIENT, self.url, IMAGE, prefix],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.client.stdout.readline().strip() != "ready":
            raise RuntimeError("the moto client failed to set up its job queue")

    def one_job(self, name: str) -> float:
        self.client.stdin.write(name + "\n")
        self.client.stdin.flush()
        out = json.loads(self.client.stdout.readline())
        assert out["status"] == "SUCCEEDED", out
        return out["seconds"]

    def close(self) -> None:
        for proc in (self.client, self.server):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.log.close()


def docker_run_host(engine) -> float:
    t0 = time.perf_counter()
    container = engine.containers.create(IMAGE, ["/bin/sh", "-c", "true"], network_mode="host")
    container.start()
    code = container.wait()["StatusCode"]
    container.remove(force=True)
    assert code == 0
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeat", type=int, default=10)
    args = p.parse_args()
    if not (MOTO / "moto_server").exists():
        print(f"moto is not installed: make .venv-moto/.installed (creates {MOTO.parent.name})", file=sys.stderr)
        return 2
    engine = docker.from_env()
    engine.images.get(IMAGE)
    prefix = f"batchai-bench-{uuid.uuid4().hex[:8]}-"      # moto's containers are named after the job
    moto = Moto(prefix)
    times: dict[str, list[float]] = {"emulator": [], "moto": [], "bridge": [], "host": []}
    try:
        with EmulatorProcess(Path(tempfile.mkdtemp(prefix="batchai-bench-")) / "data", "--executor", "docker",
                             "--gpus", "none", "--allocation-delay", "0") as emu:
            c, rm = clients(emu)
            cluster_id = setup(c, rm, 1)
            one_job(c, cluster_id, "warmup")
            moto.one_job("warmup")
            for i in range(args.repeat):     # interleaved, so machine noise hits all alike
                times["emulator"].append(one_job(c, cluster_id, f"noop-{i}"))
                times["moto"].append(moto.one_job(f"noop-{i}"))
                times["bridge"].append(docker_run(engine))
                times["host"].append(docker_run_host(engine))
    finally:
        moto.close()
        for container in engine.containers.list(all=True, filters={"name": prefix}):
            container.remove(force=True)     # moto leaves its job containers behind
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"no-op job create -> succeeded, median of {args.repeat} (image {IMAGE}, command true):")
    print(f"  emulator (Docker executor)         {med['emulator']:.3f} s")
    print(f"  moto AWS Batch (Docker-backed)     {med['moto']:.3f} s")
    print(f"  docker run, default bridge         {med['bridge']:.3f} s")
    print(f"  docker run, host network           {med['host']:.3f} s")
    print(f"ratio emulator / moto: {med['emulator'] / med['moto']:.2f}x (goal <= 1.0x); "
          f"emulator / docker run on the bridge: {med['emulator'] / med['bridge']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
