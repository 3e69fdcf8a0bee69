"""Typed views of what a create body asked for: every field of a job's, cluster's or file server's properties
that the backend and the runner read. Frozen dataclasses and enums; no Flask, no wire names.

The snake_case body (wire.from_wire of the request's `properties`, after the backend's defaults) is what the
store keeps and what a GET echoes (models.Job.spec etc.); `JobProperties.parse(spec)` and its siblings turn it
into these objects once per model (at create, and on load from the store, so a restart rebuilds them from what
was stored). Parsing never refuses anything: validation.py (the swagger) and the backend's checks do that. A
missing optional field gets the service's default, members the code does not read stay in the echo only.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Mapping


class ToolType(StrEnum):
    CNTK = "cntk"
    TENSORFLOW = "tensorflow"
    CAFFE = "caffe"
    CAFFE2 = "caffe2"
    CHAINER = "chainer"
    HOROVOD = "horovod"
    CUSTOMMPI = "custommpi"
    CUSTOM = "custom"
    # The 2018-05-01 enum has no value for pyTorchSettings although its description lists "pytorch"; the enum is
    # modelAsString, so the SDKs accept the string. Unverified what the service sent; "pytorch" is the plausible one.
    PYTORCH = "pytorch"


# toolkit settings property (snake_case) -> tool type, in the swagger's order
TOOLKITS: dict[str, ToolType] = {
    "cntk_settings": ToolType.CNTK,
    "py_torch_settings": ToolType.PYTORCH,
    "tensor_flow_settings": ToolType.TENSORFLOW,
    "caffe_settings": ToolType.CAFFE,
    "caffe2_settings": ToolType.CAFFE2,
    "chainer_settings": ToolType.CHAINER,
    "custom_toolkit_settings": ToolType.CUSTOM,
    "custom_mpi_settings": ToolType.CUSTOMMPI,
    "horovod_settings": ToolType.HOROVOD,
}


class SchedulingPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


PRIORITY_RANK = {SchedulingPriority.HIGH: 0, SchedulingPriority.NORMAL: 1, SchedulingPriority.LOW: 2}


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _int(value: Any, default: int | None) -> int | None:
    return default if value is None else int(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


# ---- shared pieces -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EnvironmentVariable:
    """An environment variable or a secret; a secret given only as a Key Vault reference has value None."""
    name: str
    value: str | None

    @classmethod
    def parse_all(cls, items: Any, default: str | None) -> tuple[EnvironmentVariable, ...]:
        return tuple(cls(str(v.get("name", "")), default if v.get("value") is None else str(v["value"]))
                     for v in _list(items))


@dataclass(frozen=True)
class StorageCredentials:
    account_key: str | None = None
    sas_token: str | None = None

    @classmethod
    def parse(cls, d: Any) -> StorageCredentials:
        d = _dict(d)
        return cls(_str(d.get("account_key")), _str(d.get("sas_token")))


@dataclass(frozen=True)
class AzureFileShareReference:
    azure_file_url: str
    relative_mount_path: str
    account_name: str | None = None
    credentials: StorageCredentials = StorageCredentials()


@dataclass(frozen=True)
class AzureBlobFileSystemReference:
    account_name: str
    container_name: str
    relative_mount_path: str
    mount_options: str | None = None
    credentials: StorageCredentials = StorageCredentials()


@dataclass(frozen=True)
class FileServerReference:
    file_server_id: str
    relative_mount_path: str
    source_directory: str | None = None


@dataclass(frozen=True)
class UnmanagedFileSystemReference:
    mount_command: str
    relative_mount_path: str


@dataclass(frozen=True)
class MountVolumes:
    azure_file_shares: tuple[AzureFileShareReference, ...] = ()
    azure_blob_file_systems: tuple[AzureBlobFileSystemReference, ...] = ()
    file_servers: tuple[FileServerReference, ...] = ()
    unmanaged_file_systems: tuple[UnmanagedFileSystemReference, ...] = ()

    @classmethod
    def parse(cls, d: Any) -> MountVolumes:
        d = _dict(d)
        return cls(
            tuple(AzureFileShareReference(str(r.get("azure_file_url", "")), str(r.get("relative_mount_path", "")),
                                          _str(r.get("account_name")), StorageCredentials.parse(r.get("credentials")))
                  for r in _list(d.get("azure_file_shares"))),
            tuple(AzureBlobFileSystemReference(str(r.get("account_name", "")), str(r.get("container_name", "")),
                                               str(r.get("relative_mount_path", "")), _str(r.get("mount_options")),
                                               StorageCredentials.parse(r.get("credentials")))
                  for r in _list(d.get("azure_blob_file_systems"))),
            tuple(FileServerReference(str(_dict(r.get("file_server")).get("id", "")),
                                      str(r.get("relative_mount_path", "")), _str(r.get("source_directory")))
                  for r in _list(d.get("file_servers"))),
            tuple(UnmanagedFileSystemReference(str(r.get("mount_command", "")), str(r.get("relative_mount_path", "")))
                  for r in _list(d.get("unmanaged_file_systems"))))


# ---- jobs ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ToolkitSettings:
    """The one toolkit settings object of a job (cntkSettings, customMpiSettings, ...), whichever it is: the
    members of all of them, None where this toolkit has none or the caller gave none."""
    tool_type: ToolType
    command_line: str | None = None                         # custom toolkit, custom MPI
    python_script_file_path: str | None = None
    python_interpreter_path: str | None = None
    command_line_args: str | None = None
    process_count: int | None = None
    config_file_path: str | None = None                     # CNTK (BrainScript), Caffe
    language_type: str | None = None                        # CNTK
    communication_backend: str | None = None                # PyTorch
    worker_count: int | None = None                         # TensorFlow
    parameter_server_count: int | None = None
    master_command_line_args: str | None = None
    worker_command_line_args: str | None = None
    parameter_server_command_line_args: str | None = None

    @classmethod
    def parse(cls, tool_type: ToolType, d: Mapping[str, Any]) -> ToolkitSettings:
        return cls(tool_type, *(_str(d.get(k)) for k in ("command_line", "python_script_file_path",
                                                         "python_interpreter_path", "command_line_args")),
                   _int(d.get("process_count"), None), _str(d.get("config_file_path")), _str(d.get("language_type")),
                   _str(d.get("communication_backend")), _int(d.get("worker_count"), None),
                   _int(d.get("parameter_server_count"), None),
                   *(_str(d.get(k)) for k in ("master_command_line_args", "worker_command_line_args",
                                              "parameter_server_command_line_args")))


@dataclass(frozen=True)
class RegistryCredentials:
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class ImageSourceRegistry:
    image: str
    server_url: str | None = None
    credentials: RegistryCredentials = RegistryCredentials()


@dataclass(frozen=True)
class ContainerSettings:
    image_source_registry: ImageSourceRegistry
    shm_size: str | None = None

    @classmethod
    def parse(cls, d: Any) -> ContainerSettings | None:
        if not isinstance(d, dict):
            return None
        reg = _dict(d.get("image_source_registry"))
        creds = _dict(reg.get("credentials"))
        return cls(ImageSourceRegistry(str(reg.get("image") or ""), _str(reg.get("server_url")),
                                       RegistryCredentials(_str(creds.get("username")), _str(creds.get("password")))),
                   _str(d.get("shm_size")))


@dataclass(frozen=True)
class InputDirectory:
    id: str
    path: str


@dataclass(frozen=True)
class OutputDirectory:
    id: str
    path_prefix: str
    path_suffix: str | None = None


def _priority(value: Any) -> SchedulingPriority:
    try:
        return SchedulingPriority(str(value or "normal").lower())
    except ValueError:
        return SchedulingPriority.NORMAL    # the rank the scheduler gave an unknown class before these types


@dataclass(frozen=True)
class JobProperties:
    """What a job asked for, as the backend and the runner read it."""
    cluster_id: str = ""
    node_count: int = 1
    # every toolkit settings object present, by tool type (the backend refuses any count but one)
    toolkits: tuple[ToolType, ...] = ()
    toolkit: ToolkitSettings | None = None                  # the first of them
    std_out_err_path_prefix: str = ""
    mount_volumes: MountVolumes = MountVolumes()
    container_settings: ContainerSettings | None = None
    input_directories: tuple[InputDirectory, ...] = ()
    output_directories: tuple[OutputDirectory, ...] = ()
    environment_variables: tuple[EnvironmentVariable, ...] = ()
    secrets: tuple[EnvironmentVariable, ...] = ()
    scheduling_priority: SchedulingPriority = SchedulingPriority.NORMAL
    max_wall_clock_time: str = "P7D"                        # the swagger's default
    job_preparation: str | None = None                      # its command line

    @property
    def image(self) -> str:
        """The container image asked for, or "" (a job for the host, --executor local)."""
        return self.container_settings.image_source_registry.image if self.container_settings else ""

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> JobProperties:
        present = [(key, tool) for key, tool in TOOLKITS.items() if spec.get(key) is not None]
        first = present[0] if present else None
        return cls(
            cluster_id=str(_dict(spec.get("cluster")).get("id", "")),
            node_count=_int(spec.get("node_count"), 1),
            toolkits=tuple(tool for _, tool in present),
            toolkit=ToolkitSettings.parse(first[1], _dict(spec.get(first[0]))) if first else None,
            std_out_err_path_prefix=str(spec.get("std_out_err_path_prefix") or ""),
            mount_volumes=MountVolumes.parse(spec.get("mount_volumes")),
            container_settings=ContainerSettings.parse(spec.get("container_settings")),
            input_directories=tuple(InputDirectory(str(d.get("id", "")), str(d.get("path", "")))
                                    for d in _list(spec.get("input_directories"))),
            output_directories=tuple(OutputDirectory(str(d.get("id", "")), str(d.get("path_prefix", "")),
                                                     _str(d.get("path_suffix")))
                                     for d in _list(spec.get("output_directories"))),
            environment_variables=EnvironmentVariable.parse_all(spec.get("environment_variables"), ""),
            secrets=EnvironmentVariable.parse_all(spec.get("secrets"), None),
            scheduling_priority=_priority(spec.get("scheduling_priority")),
            max_wall_clock_time=str(_dict(spec.get("constraints")).get("max_wall_clock_time") or "P7D"),
            job_preparation=_str(_dict(spec.get("job_preparation")).get("command_line")))


# ---- clusters ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ManualScaleSettings:
    target_node_count: int = 0


@dataclass(frozen=True)
class AutoScaleSettings:
    minimum_node_count: int = 0
    maximum_node_count: int = 0
    initial_node_count: int = 0


@dataclass(frozen=True)
class ScaleSettings:
    """A cluster's scale settings; the backend refuses any but exactly one of the two."""
    manual: ManualScaleSettings | None = None
    auto_scale: AutoScaleSettings | None = None

    @classmethod
    def parse(cls, d: Any) -> ScaleSettings | None:
        """None for no scale settings (absent or empty)."""
        if not isinstance(d, dict) or not d:
            return None
        manual, auto = d.get("manual"), d.get("auto_scale")
        return cls(ManualScaleSettings(_int(manual.get("target_node_count"), 0)) if isinstance(manual, dict) else None,
                   AutoScaleSettings(_int(auto.get("minimum_node_count"), 0), _int(auto.get("maximum_node_count"), 0),
                                     _int(auto.get("initial_node_count"), 0)) if isinstance(auto, dict) else None)


@dataclass(frozen=True)
class SetupTask:
    command_line: str = ""
    std_out_err_path_prefix: str = ""
    environment_variables: tuple[EnvironmentVariable, ...] = ()
    secrets: tuple[EnvironmentVariable, ...] = ()


@dataclass(frozen=True)
class NodeSetup:
    setup_task: SetupTask | None = None
    mount_volumes: MountVolumes = MountVolumes()


@dataclass(frozen=True)
class AmlCompute:
    """What an Azure ML compute (an AmlCompute cluster, azureml/computes.py) keeps beside the Batch AI members:
    its ARM resource's location and tags and the compute properties Batch AI has no place for."""
    location: str | None = None
    tags: Mapping[str, str] | None = None
    description: str | None = None
    vm_priority: str = "dedicated"
    idle: str = "PT120S"                    # nodeIdleTimeBeforeScaleDown
    remote_login: str = "NotSpecified"      # remoteLoginPortPublicAccess
    operation: str | None = None            # the id of the last create or update's operation
    created: str | None = None
    modified: str | None = None

    @classmethod
    def parse(cls, d: Any) -> AmlCompute | None:
        if not isinstance(d, dict):
            return None
        return cls(_str(d.get("location")), d.get("tags") if isinstance(d.get("tags"), dict) else None,
                   _str(d.get("description")), str(d.get("vm_priority") or "dedicated"), str(d.get("idle") or "PT120S"),
                   str(d.get("remote_login") or "NotSpecified"),
                   *(_str(d.get(k)) for k in ("operation", "created", "modified")))


@dataclass(frozen=True)
class ClusterProperties:
    """What a cluster asked for, as the backend and the runner read it."""
    vm_size: str = ""
    scale_settings: ScaleSettings | None = None
    node_setup: NodeSetup = NodeSetup()
    azureml: AmlCompute | None = None       # set for Azure ML computes only

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> ClusterProperties:
        setup = _dict(spec.get("node_setup"))
        task = setup.get("setup_task")
        return cls(
            vm_size=str(spec.get("vm_size") or ""),
            scale_settings=ScaleSettings.parse(spec.get("scale_settings")),
            node_setup=NodeSetup(
                SetupTask(str(task.get("command_line") or ""), str(task.get("std_out_err_path_prefix") or ""),
                          EnvironmentVariable.parse_all(task.get("environment_variables"), ""),
                          EnvironmentVariable.parse_all(task.get("secrets"), None)) if task else None,
                MountVolumes.parse(setup.get("mount_volumes"))),
            azureml=AmlCompute.parse(spec.get("azureml")))
