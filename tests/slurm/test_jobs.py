"""Jobs through azure-mgmt-batchai 2.0.0 against an emulator with `--executor slurm` on the 3-node test cluster."""
from __future__ import annotations

import re

import pytest


def test_one_node_job_succeeds_with_outputs(slurm_emulator):
    sdk = slurm_emulator.sdk
    sdk.cluster(name="one", nodes=1)
    cmd = 'echo "on $(hostname) slurm job $SLURM_JOB_ID"; echo result >$AZ_BATCHAI_OUTPUT_OUT/result.txt'
    assert sdk.job(name="j1", cluster="one", command=cmd) == {"state": "queued"}
    job = sdk.wait(name="j1")
    log = sdk.read(name="j1", filename="execution.log")["text"]
    assert job["state"] == "succeeded", (job, log)
    assert job["exit_code"] == 0
    out = sdk.read(name="j1", filename="stdout.txt")["text"]
    assert out.startswith("on node") and "slurm job" in out, out
    assert "Slurm job" in log and "submitted" in log
    assert sdk.read(name="j1", filename="result.txt", directory_id="OUT")["text"] == "result\n"


def test_non_zero_exit_code_fails_the_job(slurm_emulator):
    sdk = slurm_emulator.sdk
    sdk.cluster(name="one", nodes=1)
    sdk.job(name="j3", cluster="one", command="echo nope >&2; exit 3")
    job = sdk.wait(name="j3")
    assert job["state"] == "failed" and job["exit_code"] == 3, job
    assert job["errors"][0]["code"] == "JobFailed"
    assert sdk.read(name="j3", filename="stderr.txt")["text"] == "nope\n"


ALLREDUCE = '''import ctypes, os, socket
mpi = ctypes.CDLL("libmpi.so.40", mode=ctypes.RTLD_GLOBAL)
mpi.MPI_Init(None, None)
sym = lambda name: ctypes.c_void_p(ctypes.addressof(ctypes.c_char.in_dll(mpi, name)))
rank, size, total = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
mpi.MPI_Comm_rank(sym("ompi_mpi_comm_world"), ctypes.byref(rank))
mpi.MPI_Comm_size(sym("ompi_mpi_comm_world"), ctypes.byref(size))
mine = ctypes.c_int(rank.value + 1)
mpi.MPI_Allreduce(ctypes.byref(mine), ctypes.byref(total), 1, sym("ompi_mpi_int"), sym("ompi_mpi_op_sum"),
                  sym("ompi_mpi_comm_world"))
# one write(2) per line: the ranks of a node share one output file, and print() with several arguments can be
# split into several writes that interleave with another rank's
os.write(1, f"rank {rank.value} of {size.value} on {socket.gethostname()} sum {total.value}\\n".encode())
mpi.MPI_Finalize()
'''


def test_two_node_custom_mpi_job_allreduces_across_nodes(slurm_emulator):
    """An MPI allreduce (Open MPI's libmpi through ctypes: no compiler or mpi4py on the nodes) over 4 ranks on two
    Slurm nodes; job preparation runs on both nodes first and shows the host file."""
    sdk = slurm_emulator.sdk
    (slurm_emulator.share / "allreduce.py").write_text(ALLREDUCE)
    sdk.cluster(name="two", nodes=2)
    sdk.job(name="mpi", cluster="two", nodes=2, mpi=4, prep="hostname; cat $AZ_BATCHAI_MPI_HOST_FILE",
            command="python3 $AZ_BATCHAI_MOUNT_ROOT/afs/allreduce.py")
    job = sdk.wait(name="mpi", timeout=180)
    files = sdk.files(name="mpi")["files"]
    out = sdk.read(name="mpi", filename="stdout.txt")["text"]
    assert job["state"] == "succeeded", (job, out, sdk.read(name="mpi", filename="stderr.txt")["text"],
                                         sdk.read(name="mpi", filename="execution.log")["text"])
    # two ranks of one node may interleave their lines ("rank 0 of 4 on node1rank 1 of 4 on node1 sum 10\n sum 10")
    ranks = sorted(re.findall(r"rank (\d+) of 4 on (node\d+)", out))
    assert [r[0] for r in ranks] == ["0", "1", "2", "3"], out
    assert out.count("sum ") == 4 and out.count("sum 10") == 4, out  # 1 + 2 + 3 + 4
    hosts = {r[1] for r in ranks}
    assert len(hosts) == 2 and all(h.startswith("node") for h in hosts), out
    prep0 = sdk.read(name="mpi", filename="stdout-job_prep.txt")["text"].split("\n")
    prep1 = sdk.read(name="mpi", filename="stdout-job_prep-1.txt")["text"].split("\n")
    assert {prep0[0], prep1[0]} == hosts
    assert prep0[1:3] == prep1[1:3] == [f"{h} slots=1" for h in (prep0[0], prep1[0])], (prep0, prep1)
    assert {"stdout.txt", "stderr.txt", "execution.log", "stdout-job_prep.txt", "stdout-job_prep-1.txt"} <= set(files)


def test_gpu_cluster_nodes_see_their_gpus(slurm_emulator):
    """NC12: 2 GPUs per node, given by Slurm (gres, stand-in devices) as CUDA_VISIBLE_DEVICES on each node."""
    sdk = slurm_emulator.sdk
    sdk.cluster(name="gpu", vm_size="STANDARD_NC12", nodes=2)
    sdk.job(name="gpus", cluster="gpu", nodes=2, prep="echo $(hostname) $CUDA_VISIBLE_DEVICES $AZ_BATCHAI_NUM_GPUS",
            command="cat $AZ_BATCHAI_MPI_HOST_FILE")
    job = sdk.wait(name="gpus")
    assert job["state"] == "succeeded", (job, sdk.read(name="gpus", filename="execution.log")["text"])
    seen = [sdk.read(name="gpus", filename=f)["text"].split() for f in ("stdout-job_prep.txt",
                                                                        "stdout-job_prep-1.txt")]
    assert [s[1:] for s in seen] == [["0,1", "2"], ["0,1", "2"]] and seen[0][0] != seen[1][0], seen
    assert sdk.read(name="gpus", filename="stdout.txt")["text"].split("\n")[:2] == [
        f"{seen[0][0]} slots=2", f"{seen[1][0]} slots=2"]


def test_node_count_above_the_partition_is_refused(slurm_emulator):
    sdk = slurm_emulator.sdk
    sdk.cluster(name="one", nodes=1)
    out = sdk.job(name="toomany", cluster="one", nodes=4)
    assert out["error"]["status"] == 400 and out["error"]["code"] == "InvalidNodeCount", out
    assert "4 nodes" in out["error"]["message"] and "has 3" in out["error"]["message"]


def test_more_gpus_than_the_nodes_have_fails_naming_slurm(slurm_emulator):
    sdk = slurm_emulator.sdk
    sdk.cluster(name="nc24", vm_size="STANDARD_NC24", nodes=1)
    sdk.job(name="gpu4", cluster="nc24", nodes=1)
    job = sdk.wait(name="gpu4")
    assert job["state"] == "failed" and job["errors"][0]["code"] == "SlurmSubmitFailed", job
    assert "configuration is not available" in job["errors"][0]["message"], job


TF_TASK = '''import json, os, socket, sys, time
task = json.loads(os.environ["TF_CONFIG"])["task"]
print(task["type"], task["index"], socket.gethostname(), os.environ["AZ_BATCHAI_PS_HOSTS"],
      os.environ["AZ_BATCHAI_WORKER_HOSTS"], flush=True)
mark = os.path.join(os.environ["AZ_BATCHAI_SHARED_JOB_TEMP"], "worker-1-up")
if task["type"] == "worker" and task["index"] == 1:
    open(mark, "w").close()
if task["type"] == "master":        # the job ends with the master: let worker 1 on the other node say its line
    deadline = time.time() + 60
    while not os.path.exists(mark) and time.time() < deadline:
        time.sleep(0.1)
    sys.exit(0 if os.path.exists(mark) else 5)
'''


def test_tensorflow_ps_and_workers_placed_across_nodes(slurm_emulator):
    sdk = slurm_emulator.sdk
    (slurm_emulator.share / "tf_task.py").write_text(TF_TASK)
    sdk.cluster(name="two", nodes=2)
    sdk.job(name="tf", cluster="two", nodes=2, tensorflow={
        "script": "$AZ_BATCHAI_MOUNT_ROOT/afs/tf_task.py", "workers": 2, "ps": 1, "python": "python3"})
    job = sdk.wait(name="tf")
    assert job["state"] == "succeeded", (job, sdk.read(name="tf", filename="execution.log")["text"])
    lines = {f: sdk.read(name="tf", filename=f)["text"].split() for f in
             ("stdout-wk-0.txt", "stdout-wk-1.txt", "stdout-ps-0.txt")}
    master, worker, ps = lines["stdout-wk-0.txt"], lines["stdout-wk-1.txt"], lines["stdout-ps-0.txt"]
    assert (master[:2], worker[:2], ps[:2]) == (["master", "0"], ["worker", "1"], ["ps", "0"]), lines
    assert master[2] != worker[2] and ps[2] == master[2], lines     # worker 1 on the other node
    assert master[3] == f"{master[2]}:2222"
    assert master[4] == f"{master[2]}:2223,{worker[2]}:2223", lines


def test_cluster_larger_than_the_partition_counts_the_missing_nodes_unusable(slurm_emulator):
    sdk = slurm_emulator.sdk
    cluster = sdk.cluster(name="five", nodes=5)
    assert (cluster["current_node_count"], cluster["idle"], cluster["unusable"]) == (5, 3, 2), cluster


def test_a_failed_preparation_on_any_node_fails_the_job_before_its_tasks(slurm_emulator):
    sdk = slurm_emulator.sdk
    sdk.cluster(name="two", nodes=2)
    sdk.job(name="badprep", cluster="two", nodes=2, prep='[ "$AZ_BATCHAI_TASK_INDEX" = 1 ] && exit 4; true',
            command="echo the task ran")
    job = sdk.wait(name="badprep")
    assert job["state"] == "failed" and job["errors"][0]["code"] == "JobPreparationFailed", job
    assert job["exit_code"] == 4
    assert sdk.read(name="badprep", filename="stdout.txt")["text"] is None     # the master's task never ran
