"""The Batch AI CNTK quickstart (api-version 2018-05-01), written once with the maintained SDKs.

Resource group → storage account (azure-mgmt-storage, keys by listKeys) → file share with the script and the
MNIST data → workspace → one-node NC6 cluster with the share mounted → wait for it → experiment → the job with
the quickstart's container image and CNTK settings → live logs → final state, model files downloaded, test error,
what it would have cost on Azure → the resource group deleted (unless kept).

Nothing here knows which cloud it talks to: `clients` come from `cloud.connect`, and the file share's address
is the storage account's `primaryEndpoints.file` as Resource Manager returns it (host style on Azure,
path style on the emulator).
"""
from __future__ import annotations

import hashlib
import re
import secrets
import tempfile
from contextlib import redirect_stderr
from dataclasses import dataclass
from pathlib import Path

from .console import Console, LineWriter
from .download import download_job
from .jobref import JobRef, state_of
from .report import Summary, find_test_error, read_logs, seconds_between
from .stream import JobLogFollower

CNTK_IMAGE = "microsoft/cntk:2.1-gpu-python3.5-cuda8.0-cudnn6.0"
TRAIN_FILE = "Train-28x28_cntk_text.txt"
TEST_FILE = "Test-28x28_cntk_text.txt"
SCRIPT_NAME = "ConvNet_MNIST.py"
RELATIVE_MOUNT_POINT = "azurefileshare"


def default_script() -> Path:
    import trainer
    return Path(trainer.__file__).resolve().parent / SCRIPT_NAME


@dataclass
class Options:
    location: str = "eastus"
    resource_group: str | None = None      # default batchaiqs-<6 hex>, new per run
    storage_account: str | None = None     # default derived from subscription and resource group
    share: str = "batchaiquickstart"
    directory: str = "mnistcntksample"
    workspace: str = "myworkspace"
    cluster: str = "mycluster"
    experiment: str = "myexperiment"
    job: str = "myjob"
    vm_size: str = "STANDARD_NC6"
    nodes: int = 1
    image: str = CNTK_IMAGE
    admin_user: str = "batchai"
    admin_password: str | None = None      # default: random, never printed
    data: Path | None = None               # a folder with the two CTF files; default: prepared by trainer.data
    data_source: str = "auto"
    script: Path | None = None
    epochs: int | None = None              # default: the script's own (40)
    trainer_args: str = ""
    poll: float = 2.0
    cluster_timeout: float = 1800.0
    out: Path = Path("batchai-output")
    keep: bool = False

    def resolved(self, subscription_id: str) -> "Options":
        rg = self.resource_group or f"batchaiqs-{secrets.token_hex(3)}"
        # storage account names are global: derive one from what makes this run's resources unique
        account = self.storage_account or "bqs" + hashlib.sha256(f"{subscription_id}/{rg}".encode()).hexdigest()[:16]
        password = self.admin_password or secrets.token_urlsafe(18) + "aA1!"
        return Options(**{**self.__dict__, "resource_group": rg, "storage_account": account,
                          "admin_password": password, "script": Path(self.script or default_script())})

    def command_line_args(self) -> str:
        args = "$AZ_BATCHAI_INPUT_SAMPLE $AZ_BATCHAI_OUTPUT_MODEL"
        if self.epochs:
            args += f" --epochs {self.epochs}"
        if self.trainer_args:
            args += " " + self.trainer_args
        return args

    @classmethod
    def from_args(cls, args) -> "Options":
        """The options `quickstart` and `demo` take on the command line (cloud/__main__.py's parsers)."""
        return cls(location=args.location, resource_group=args.resource_group,
                   storage_account=args.storage_account, job=args.job_name, data=args.data,
                   data_source=args.data_source, epochs=args.epochs, trainer_args=args.trainer_args,
                   poll=args.poll, out=args.out, keep=args.keep)


class QuickstartError(Exception):
    pass


def _prepare_data(options: Options, console: Console, scratch: Path) -> Path:
    if options.data:
        data = Path(options.data)
        missing = [n for n in (TRAIN_FILE, TEST_FILE) if not (data / n).is_file()]
        if missing:
            raise QuickstartError(f"--data {data}: missing {', '.join(missing)} (python -m trainer.data --out {data})")
        return data
    from trainer import data as trainer_data
    out = scratch / "data"
    with console.step(f"preparing the MNIST data (trainer.data, source {options.data_source})"), \
            redirect_stderr(LineWriter(lambda text: console.line(f"  {text}"))):
        trainer_data.prepare(str(out), source=options.data_source)
    return out


def _create_storage(clients, o: Options, console: Console):
    from azure.mgmt.storage.models import Sku, StorageAccountCreateParameters
    with console.step(f"storage account {o.storage_account}"):
        account = clients.storage.storage_accounts.begin_create(
            o.resource_group, o.storage_account,
            StorageAccountCreateParameters(sku=Sku(name="Standard_LRS"), kind="StorageV2",
                                           location=o.location)).result()
        keys = clients.storage.storage_accounts.list_keys(o.resource_group, o.storage_account).keys_property
    file_endpoint = account.primary_endpoints.file
    console.line(f"  file endpoint: {file_endpoint}")
    return file_endpoint, keys[0].value


def _upload(clients, o: Options, file_endpoint: str, key: str, data: Path, console: Console) -> None:
    from azure.core.exceptions import ResourceExistsError
    service = clients.file_service(file_endpoint, o.storage_account, key)
    share = service.get_share_client(o.share)
    with console.step(f"file share {o.share}, directory {o.directory}"):
        for create in (share.create_share, share.get_directory_client(o.directory).create_directory):
            try:
                create()
            except ResourceExistsError:
                pass
    directory = share.get_directory_client(o.directory)
    for path in (data / TRAIN_FILE, data / TEST_FILE, o.script):
        size = path.stat().st_size
        with console.step(f"uploading {path.name} ({size / 1e6:.1f} MB)"), open(path, "rb") as fh:
            directory.get_file_client(SCRIPT_NAME if path == o.script else path.name).upload_file(fh, length=size)


def _cluster_parameters(o: Options, file_endpoint: str, key: str):
    from azure.mgmt.batchai import models
    return models.ClusterCreateParameters(
        vm_size=o.vm_size,
        user_account_settings=models.UserAccountSettings(admin_user_name=o.admin_user,
                                                         admin_user_password=o.admin_password),
        scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=o.nodes)),
        node_setup=models.NodeSetup(mount_volumes=models.MountVolumes(azure_file_shares=[
            models.AzureFileShareReference(
                account_name=o.storage_account,
                credentials=models.AzureStorageCredentialsInfo(account_key=key),
                azure_file_url=f"{file_endpoint.rstrip('/')}/{o.share}",
                relative_mount_path=RELATIVE_MOUNT_POINT)])))


def _job_parameters(o: Options, cluster_id: str):
    from azure.mgmt.batchai import models
    root = f"$AZ_BATCHAI_MOUNT_ROOT/{RELATIVE_MOUNT_POINT}"
    return models.JobCreateParameters(
        cluster=models.ResourceId(id=cluster_id),
        node_count=1,
        std_out_err_path_prefix=root,
        input_directories=[models.InputDirectory(id="SAMPLE", path=f"{root}/{o.directory}")],
        output_directories=[models.OutputDirectory(id="MODEL", path_prefix=root, path_suffix="Models")],
        container_settings=models.ContainerSettings(image_source_registry=models.ImageSourceRegistry(image=o.image)),
        cntk_settings=models.CNTKsettings(python_script_file_path=f"$AZ_BATCHAI_INPUT_SAMPLE/{SCRIPT_NAME}",
                                          command_line_args=o.command_line_args()))


def wait_for_cluster(clients, o: Options, console: Console, sleep, clock):
    """Poll the cluster until it is steady with its nodes usable; print its counts as the quickstart did."""
    began = clock()
    while True:
        cluster = clients.batchai.clusters.get(o.resource_group, o.workspace, o.cluster)
        counts = cluster.node_state_counts
        state = str(getattr(cluster.allocation_state, "value", cluster.allocation_state))
        numbers = dict(idle=0, running=0, preparing=0, unusable=0, leaving=0)
        if counts is not None:
            numbers = {k: getattr(counts, f"{k}_node_count") or 0 for k in numbers}
        console.status(f"cluster {state}: target {o.nodes}, allocated {cluster.current_node_count or 0}, "
                       + ", ".join(f"{k} {v}" for k, v in numbers.items()),
                       volatile=f" ({int(clock() - began)} s)")
        if cluster.errors:
            raise QuickstartError("the cluster reports errors: " + "; ".join(
                f"{e.code}: {e.message}" for e in cluster.errors))
        if state == "steady" and numbers["idle"] + numbers["running"] >= o.nodes:
            return cluster
        if state == "steady" and numbers["unusable"] >= o.nodes:
            raise QuickstartError(f"the cluster's nodes are unusable: {numbers}")
        if clock() - began > o.cluster_timeout:
            raise QuickstartError(f"the cluster was not ready after {o.cluster_timeout:.0f} s")
        sleep(o.poll)


def run(clients, options: Options, console: Console | None = None, *, sleep=None, clock=None) -> Summary:
    """The whole flow against whatever cloud `clients` talk to; returns the summary (also printed)."""
    import time
    from azure.mgmt.batchai import models
    console = console or Console()
    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    o = options.resolved(clients.subscription_id)
    for note in clients.notes:
        console.line(f"note: {note}")
    target = f"{clients.cloud.name} ({clients.cloud.resource_manager})"
    console.line(f"Batch AI quickstart on {target}, subscription {clients.subscription_id}")
    group_created = False
    summary = None
    try:
        with tempfile.TemporaryDirectory(prefix="batchai-quickstart-") as scratch:
            data = _prepare_data(o, console, Path(scratch))
            with console.step(f"resource group {o.resource_group} in {o.location}"):
                clients.resources.resource_groups.create_or_update(o.resource_group, {"location": o.location})
                group_created = True
            file_endpoint, key = _create_storage(clients, o, console)
            _upload(clients, o, file_endpoint, key, data, console)
        with console.step(f"workspace {o.workspace}"):
            clients.batchai.workspaces.begin_create(
                o.resource_group, o.workspace, models.WorkspaceCreateParameters(location=o.location)).result()
        with console.step(f"cluster {o.cluster}: {o.nodes} x {o.vm_size}, share mounted at "
                          f"$AZ_BATCHAI_MOUNT_ROOT/{RELATIVE_MOUNT_POINT}"):
            clients.batchai.clusters.begin_create(o.resource_group, o.workspace, o.cluster,
                                                  _cluster_parameters(o, file_endpoint, key)).result()
        with console.step("waiting for the cluster"):
            cluster = wait_for_cluster(clients, o, console, sleep, clock)
        with console.step(f"experiment {o.experiment}"):
            clients.batchai.experiments.begin_create(o.resource_group, o.workspace, o.experiment).result()
        with console.step(f"job {o.job}: {o.image}, {SCRIPT_NAME} {o.command_line_args()}"):
            job = clients.batchai.jobs.begin_create(o.resource_group, o.workspace, o.experiment, o.job,
                                                    _job_parameters(o, cluster.id)).result()
        ref = JobRef.parse(job.id)
        console.line(f"  job id: {job.id}")
        job = follow_job(clients, ref, console, poll=o.poll, sleep=sleep)
        summary = finish(clients, ref, job, console, o.out / o.job, target=target, vm_size=o.vm_size,
                         nodes=o.nodes, cluster=cluster)
    finally:
        cleanup = _cleanup(clients, o, console, group_created)
        if summary is not None:
            summary.cleanup = cleanup
    for text in summary.lines():
        console.line(text)
    return summary


def follow_job(clients, ref: JobRef, console: Console, *, poll: float, sleep):
    """Stream the job's logs while it runs, printing its state changes; returns the final job."""
    seen = []

    def on_state(job):
        state = state_of(job)
        if not seen or seen[-1] != state:
            seen.append(state)
            console.line(f"job {ref.job}: {state}")

    def emit(name, line):
        console.line(f"{name} | {line}" if name else line)

    console.line(f"streaming the job's stdout/stderr (Jobs_ListOutputFiles on stdouterr, ranged reads every {poll:g} s)")
    return JobLogFollower(clients, ref, emit, poll=poll, on_state=on_state, sleep=sleep).run()


def job_cluster(clients, job):
    """The cluster a job ran on, or None when it is gone."""
    from azure.core.exceptions import HttpResponseError
    m = re.search(r"/resourceGroups/([^/]+)/providers/Microsoft\.BatchAI/workspaces/([^/]+)/clusters/([^/]+)$",
                  (job.cluster.id if job.cluster else "") or "", re.IGNORECASE)
    if not m:
        return None
    try:
        return clients.batchai.clusters.get(*m.groups())
    except HttpResponseError:
        return None


def finish(clients, ref: JobRef, job, console: Console, dest: Path, *, target: str, vm_size: str | None = None,
           nodes: int | None = None, cluster=None) -> Summary:
    """Download the job's outputs and logs into dest; read the test error; build the summary."""
    if vm_size is None:
        cluster = cluster or job_cluster(clients, job)
        vm_size = cluster.vm_size if cluster is not None else "unknown VM size"
    nodes = nodes or job.node_count or 1
    with console.step(f"downloading the job's outputs to {dest}"):
        files = download_job(clients, ref, dest, job=job)
    logs = files.pop("stdouterr", [])
    models_ = [f for directory in files.values() for f in directory]
    info = job.execution_info
    job_seconds = seconds_between(getattr(info, "start_time", None), getattr(info, "end_time", None))
    cluster_seconds = None
    if cluster is not None and getattr(info, "end_time", None) is not None:
        cluster_seconds = seconds_between(cluster.creation_time, info.end_time)
    return Summary(target=target, job_id=ref.id, state=state_of(job), exit_code=getattr(info, "exit_code", None),
                   job_seconds=job_seconds, cluster_seconds=cluster_seconds, nodes=nodes, vm_size=vm_size,
                   test_error=find_test_error(read_logs([f.path for f in logs])), model_files=models_,
                   log_files=logs, output_dir=dest,
                   errors=[f"{e.code}: {e.message}" for e in (getattr(info, "errors", None) or [])])


def _cleanup(clients, o: Options, console: Console, group_created: bool) -> str:
    if not group_created:
        return "nothing was created"
    if o.keep:
        return (f"kept (--keep): resource group {o.resource_group}; delete it with "
                f"`az group delete -n {o.resource_group}` or the SDK's resource_groups.begin_delete")
    try:
        with console.step(f"deleting resource group {o.resource_group} (storage account, workspace, cluster, job)"):
            clients.resources.resource_groups.begin_delete(o.resource_group).result()
    except Exception as exc:  # an error here must not hide the one that ended the flow, if any
        console.line(f"warning: could not delete resource group {o.resource_group}: {exc}")
        return f"NOT deleted ({exc.__class__.__name__}): delete resource group {o.resource_group} by hand"
    return f"resource group {o.resource_group} deleted"
