"""The typed resources (emulator/properties.py): create body -> wire -> typed fields, and the echo a GET answers
with, for each api-version; missing optional fields get the service's defaults, unknown ones stay in the echo."""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from emulator import wire, wire_legacy
from emulator.models import AllocationState, Cluster, ExecutionState, Job, ProvisioningState
from emulator.properties import (AutoScaleSettings, ClusterProperties, EnvironmentVariable, JobProperties,
                                 ManualScaleSettings, MountVolumes, SchedulingPriority, ToolType)

SPEC = Path(wire.__file__).parent / "spec"
VERSIONS = ["2018-05-01", "2018-03-01", "2017-09-01-preview"]
SUB, CLUSTER_ID = "00000000-0000-0000-0000-000000000000", "/subscriptions/s/resourceGroups/rg/providers/" \
                                                            "Microsoft.BatchAI/workspaces/ws/clusters/c"
# members whose values are never echoed (secrets) or that the service rewrote (the old integer priority)
NOT_ECHOED = {"accountKey", "adminUserPassword", "adminUserSshPublicKey", "password", "value", "priority"}

JOB = {"properties": {
    "cluster": {"id": CLUSTER_ID}, "nodeCount": 2, "stdOutErrPathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs",
    "tensorFlowSettings": {"pythonScriptFilePath": "train.py", "workerCount": 3, "parameterServerCount": 1,
                           "masterCommandLineArgs": "--m", "workerCommandLineArgs": "--w"},
    "mountVolumes": {"azureFileShares": [{"accountName": "acct", "azureFileUrl": "https://acct.file.core.windows"
                                          ".net/share", "relativeMountPath": "afs",
                                          "credentials": {"accountKey": "a2V5"}}],
                     "azureBlobFileSystems": [{"accountName": "acct", "containerName": "data",
                                               "relativeMountPath": "blob", "mountOptions": "-o ro",
                                               "credentials": {"accountKey": "a2V5"}}],
                     "unmanagedFileSystems": [{"mountCommand": "mount -t nfs x:/y", "relativeMountPath": "nfs"}]},
    "containerSettings": {"imageSourceRegistry": {"image": "me/img:1", "serverUrl": "reg.example",
                                                  "credentials": {"username": "u", "password": "p"}}},
    "inputDirectories": [{"id": "DATA", "path": "$AZ_BATCHAI_MOUNT_ROOT/afs/data"}],
    "outputDirectories": [{"id": "MODEL", "pathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs", "pathSuffix": "m"}],
    "environmentVariables": [{"name": "A", "value": "1"}],
    "secrets": [{"name": "S", "value": "hidden"}],
    "jobPreparation": {"commandLine": "echo prep"},
    "constraints": {"maxWallClockTime": "PT2H"}}}

CLUSTER = {"properties": {
    "vmSize": "STANDARD_NC6", "vmPriority": "dedicated",
    "scaleSettings": {"autoScale": {"minimumNodeCount": 0, "maximumNodeCount": 4, "initialNodeCount": 1}},
    "nodeSetup": {"setupTask": {"commandLine": "echo hi", "stdOutErrPathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs",
                                "environmentVariables": [{"name": "E", "value": "v"}],
                                "secrets": [{"name": "K", "value": "s3cret"}]},
                  "mountVolumes": {"fileServers": [{"fileServer": {"id": CLUSTER_ID.replace("clusters", "fileServers")},
                                                    "relativeMountPath": "nfs", "mountOptions": "rw"}]}},
    "userAccountSettings": {"adminUserName": "me", "adminUserPassword": "pw"}}}


def _example(version: str, name: str) -> dict:
    params = json.loads((SPEC / version / "examples" / f"{name}.json").read_text())["parameters"]
    return next(v for v in params.values() if isinstance(v, dict) and "properties" in v)


def _spec(body: dict, definition: str, version: str) -> tuple[dict, dict]:
    """The stored spec and the legacy member of a create body, as the views and backends make them."""
    if version == "2018-05-01":
        return wire.from_wire(body["properties"]), {}
    location, tags, spec, extras = wire_legacy.create_body({"location": "eastus", **body}, definition)
    return spec, {"location": location, "tags": tags, "extras": extras, "api_version": version}


def _echo(model, version: str) -> dict:
    kind = type(model).__name__.lower()
    if version == "2018-05-01":
        return getattr(wire, kind)(model)["properties"]
    return getattr(wire_legacy, kind)(model, version)["properties"]


def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in NOT_ECHOED:
                yield from _leaves(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (i,))
    else:
        yield path, value


def _at(value, path):
    for p in path:
        value = value[p]
    return value


def _assert_echoed(sent: dict, echo: dict) -> None:
    for path, value in _leaves(sent):
        assert _at(echo, path) == value, path


def _job_body(version: str) -> dict:
    """JOB with the members the version's JobBaseProperties has (the preview's jobs have no mountVolumes or
    secrets of their own)."""
    known = json.loads((SPEC / version / "BatchAI.json").read_text())["definitions"]["JobBaseProperties"]["properties"]
    return {"properties": {k: v for k, v in JOB["properties"].items() if k in known}}


@pytest.mark.parametrize("version", VERSIONS)
def test_job_body_to_typed_and_back(version):
    body = _job_body(version)
    spec, legacy = _spec(body, "JobBaseProperties", version)
    job = Job(subscription_id=SUB, resource_group="rg", name="j", spec=spec, legacy=legacy)
    p = job.props
    assert (p.cluster_id, p.node_count, p.std_out_err_path_prefix) == (CLUSTER_ID, 2, "$AZ_BATCHAI_MOUNT_ROOT/afs")
    assert p.toolkits == (ToolType.TENSORFLOW,)
    assert (p.toolkit.tool_type, p.toolkit.python_script_file_path, p.toolkit.worker_count,
            p.toolkit.parameter_server_count, p.toolkit.master_command_line_args) == (
        ToolType.TENSORFLOW, "train.py", 3, 1, "--m")
    if "mountVolumes" in body["properties"]:
        share, = p.mount_volumes.azure_file_shares
        assert (share.account_name, share.relative_mount_path, share.credentials.account_key) == (
            "acct", "afs", "a2V5")
        blob, = p.mount_volumes.azure_blob_file_systems
        assert (blob.container_name, blob.mount_options) == ("data", "-o ro")
        assert p.mount_volumes.unmanaged_file_systems[0].mount_command == "mount -t nfs x:/y"
    reg = p.container_settings.image_source_registry
    assert (p.image, reg.server_url, reg.credentials.username, reg.credentials.password) == (
        "me/img:1", "reg.example", "u", "p")
    assert [(d.id, d.path) for d in p.input_directories] == [("DATA", "$AZ_BATCHAI_MOUNT_ROOT/afs/data")]
    assert [(d.id, d.path_prefix, d.path_suffix) for d in p.output_directories] == [
        ("MODEL", "$AZ_BATCHAI_MOUNT_ROOT/afs", "m")]
    assert p.environment_variables == (EnvironmentVariable("A", "1"),)
    if "secrets" in body["properties"]:
        assert p.secrets == (EnvironmentVariable("S", "hidden"),)   # jobs get the value; the echo never shows it
    assert (p.job_preparation, p.max_wall_clock_time) == ("echo prep", "PT2H")
    echo = _echo(job, version)
    _assert_echoed(body["properties"], echo)
    assert echo.get("secrets", [{"name": "S"}]) == [{"name": "S"}]
    assert "hidden" not in json.dumps(echo) and "password" not in echo["containerSettings"]["imageSourceRegistry"].get(
        "credentials", {})


@pytest.mark.parametrize("version", VERSIONS)
def test_cluster_body_to_typed_and_back(version):
    body = json.loads(json.dumps(CLUSTER))
    if version == "2017-09-01-preview":
        del body["properties"]["nodeSetup"]["setupTask"]["secrets"]    # the preview's SetupTask has none
    spec, legacy = _spec(body, "ClusterBaseProperties", version)
    cluster = Cluster(subscription_id=SUB, resource_group="rg", name="c", workspace="ws", spec=spec, legacy=legacy)
    p = cluster.props
    assert p.vm_size == "STANDARD_NC6"
    assert p.scale_settings.manual is None
    assert p.scale_settings.auto_scale == AutoScaleSettings(0, 4, 1)
    task = p.node_setup.setup_task
    assert (task.command_line, task.std_out_err_path_prefix) == ("echo hi", "$AZ_BATCHAI_MOUNT_ROOT/afs")
    assert task.environment_variables == (EnvironmentVariable("E", "v"),)
    assert task.secrets == ((EnvironmentVariable("K", "s3cret"),) if version != "2017-09-01-preview" else ())
    fs, = p.node_setup.mount_volumes.file_servers
    assert (fs.file_server_id, fs.relative_mount_path) == (CLUSTER_ID.replace("clusters", "fileServers"), "nfs")
    assert (cluster.target_node_count(3), cluster.target_node_count(9), cluster.target_node_count()) == (3, 4, 1)
    echo = _echo(cluster, version)
    _assert_echoed(body["properties"], echo)
    assert "s3cret" not in json.dumps(echo) and "pw" not in json.dumps(echo)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_swagger_examples_type_as_they_read(version):
    job_body, cluster_body = _example(version, "PutJob"), _example(version, "PutCluster")
    job = Job(subscription_id=SUB, resource_group="rg", name="j",
              spec=_spec(job_body, "JobBaseProperties", version)[0])
    assert (job.props.node_count, job.props.image, job.props.toolkit.tool_type) == (1, "ubuntu", ToolType.CUSTOM)
    assert job.props.toolkit.command_line == job_body["properties"]["customToolkitSettings"]["commandLine"]
    assert job.props.output_directories[0].path_suffix == "files"
    cluster = Cluster(subscription_id=SUB, resource_group="rg", name="c",
                      spec=_spec(cluster_body, "ClusterBaseProperties", version)[0])
    assert cluster.props.scale_settings.manual == ManualScaleSettings(1)
    share, = cluster.props.node_setup.mount_volumes.azure_file_shares
    assert share.azure_file_url.endswith("/azure_file_share_name") and share.credentials.account_key
    assert cluster.props.node_setup.setup_task is None


def test_missing_optional_fields_get_the_services_defaults():
    p = JobProperties.parse({})
    assert (p.node_count, p.cluster_id, p.toolkit, p.toolkits, p.image) == (1, "", None, (), "")
    assert (p.scheduling_priority, p.max_wall_clock_time, p.job_preparation) == (
        SchedulingPriority.NORMAL, "P7D", None)
    assert p.mount_volumes == MountVolumes() and p.container_settings is None
    # a secret given only as a Key Vault reference has no value; an environment variable without one is empty
    p = JobProperties.parse({"secrets": [{"name": "S", "value_secret_reference": {}}],
                             "environment_variables": [{"name": "E"}], "scheduling_priority": "HIGH",
                             "constraints": {}})
    assert p.secrets == (EnvironmentVariable("S", None),) and p.environment_variables == (EnvironmentVariable("E", ""),)
    assert p.scheduling_priority == SchedulingPriority.HIGH and p.max_wall_clock_time == "P7D"
    c = ClusterProperties.parse({})
    assert (c.vm_size, c.scale_settings, c.node_setup.setup_task, c.node_setup.mount_volumes) == (
        "", None, None, MountVolumes())
    assert Cluster(subscription_id=SUB, resource_group="rg", name="c").target_node_count(5) == 0


def test_unknown_members_stay_in_the_echo_only():
    spec = wire.from_wire({**JOB["properties"], "someFutureMember": {"x": 1}})
    job = Job(subscription_id=SUB, resource_group="rg", name="j", spec=spec)
    assert job.props == JobProperties.parse(wire.from_wire(JOB["properties"]))
    assert wire.job(job)["properties"]["someFutureMember"] == {"x": 1}


def test_a_stored_record_rebuilds_the_typed_fields():
    """The store keeps `to_body()` as JSON; loading it (a restart) gives the same typed fields."""
    job = Job(subscription_id=SUB, resource_group="rg", name="j", spec=wire.from_wire(JOB["properties"]))
    cluster = Cluster(subscription_id=SUB, resource_group="rg", name="c", spec=wire.from_wire(CLUSTER["properties"]))
    for model in (job, cluster):
        body = json.loads(json.dumps(model.to_body()))
        assert "props" not in body and "_props" not in body         # the typed view is never stored twice
        again = type(model).from_body(body)
        assert again.props == model.props and again.spec == model.spec
        assert again.provisioning_state is ProvisioningState.SUCCEEDED
    assert Job.from_body(json.loads(json.dumps(job.to_body()))).execution_state is ExecutionState.QUEUED
    assert Cluster.from_body(json.loads(json.dumps(cluster.to_body()))).allocation_state is AllocationState.RESIZING


def test_props_follow_a_replaced_spec_and_cannot_be_changed():
    cluster = Cluster(subscription_id=SUB, resource_group="rg", name="c", spec=wire.from_wire(CLUSTER["properties"]))
    assert cluster.target_node_count() == 1
    cluster.spec = {**cluster.spec, "scale_settings": {"manual": {"target_node_count": 3}}}
    assert cluster.props.scale_settings.manual == ManualScaleSettings(3) and cluster.target_node_count() == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        cluster.props.vm_size = "other"


def test_no_module_reads_a_models_spec_by_key():
    """`spec` is the echo; the code reads `props`. (A read such as job.spec.get("node_count") would also miss the
    defaults properties.py gives, which is how the same default came to be written in several places.)"""
    root = Path(wire.__file__).parent
    reads = [f"{p.relative_to(root)}:{n}" for p in sorted(root.rglob("*.py"))
             for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"\.spec(\[|\.get\()", line)]
    assert reads == []
