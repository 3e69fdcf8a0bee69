"""One Settings object for the whole emulator, from command-line flags and BATCHAI_EMULATOR_* variables.

Precedence: explicit flag > environment variable > default. Every field has a matching variable named
BATCHAI_EMULATOR_<FIELD> (upper case), e.g. BATCHAI_EMULATOR_HTTPS_PORT=9443.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "BATCHAI_EMULATOR_"

# Azurite-style well-known development account. Not `devstoreaccount1`: azure-storage-file 2.1.0 refuses that name.
DEFAULT_STORAGE_ACCOUNT = "batchaidev"
DEFAULT_STORAGE_KEY = "YmF0Y2hhaS1lbXVsYXRvci13ZWxsLWtub3duLWRldmVsb3BtZW50LWtleS0wMDAwMDAwMDA9PQ=="

# the CPU job image .ci/docker.sh builds (images/README.md): what the GPU images of the samples map to here
CPU_IMAGE = "batchai-emulator/trainer-cpu:latest"


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    https_port: int = 8443
    # the Blob endpoint's HTTP port (path style /<account>/<container>/<blob>); -1 = 10000, Azurite's port, or a
    # free port when 10000 is taken (the banner and ARM's primaryEndpoints.blob name it); 0 = a free port
    blob_port: int = -1
    data_dir: Path = field(default_factory=lambda: Path("~/.batchai-emulator").expanduser())
    # seconds a cluster stays `resizing` before it becomes `steady` (the service took minutes)
    allocation_delay: float = 1.0
    # seconds between two scheduler ticks
    tick_interval: float = 0.2
    # NAME:KEY pairs; empty means the single documented default account
    storage_accounts: list[str] = field(default_factory=list)
    # public base URLs written into responses when the emulator sits behind a proxy or in a container;
    # empty means "derive from the request's Host header"
    public_http_url: str = ""
    public_https_url: str = ""
    public_blob_url: str = ""
    # job execution: auto (Docker when an engine answers, else local processes) | docker | local | slurm | none
    executor: str = "auto"
    # --executor slurm: the partition whose nodes the clusters are placed on
    slurm_partition: str = ""
    # --executor slurm: how jobs with containerSettings run on the nodes: docker (a container per node through the
    # node's Docker engine) or none (the nodes have no Docker: node processes, the image is ignored)
    slurm_containers: str = "docker"
    # auto (NVML / nvidia-smi) | none | comma-separated device ids
    gpus: str = "auto"
    # FROM=TO image substitutions, e.g. the quickstart's CNTK GPU image -> a local CPU image
    image_map: list[str] = field(default_factory=list)
    # NAME:GPUS:CPUS:MEM_GB VM sizes clusters may use beyond emulator/vmsizes.py's table
    vm_sizes: list[str] = field(default_factory=list)
    # accept only bearer tokens the emulator's own AAD endpoints signed (default: any well-formed token)
    strict_auth: bool = False
    # CLIENT_ID:SECRET pairs the AAD token endpoints check (empty: any client id and secret get a token)
    client_secrets: list[str] = field(default_factory=list)
    # keep finished jobs' containers (labelled) for inspection; deleting the job removes them
    keep_containers: bool = False
    # POST /_emulator/reset wipes all state (for test suites); refused unless set
    allow_reset: bool = False
    # Azure ML runs: the python that runs them with the local executor (empty: .venv-azureml beside the project,
    # else this interpreter), and the image they run in with the Docker executor (their estimator's image is mapped
    # to it; the run's log says so)
    azureml_python: str = ""
    azureml_image: str = "batchai-emulator/azureml-cpu:latest"
    # where runs install their environment's pip packages from: empty = nowhere (they are recorded, not installed:
    # runs must not reach the network unasked); a URL = a package index (--index-url); a directory = wheels and
    # sdists there (--no-index --find-links, the local executor only: a container does not see host paths)
    azureml_pip_index: str = ""
    # the HTTPS proxy that brings <account>.blob.<suffix> and <account>.file.<suffix> host names to the Blob and
    # Files planes (azureml/proxy.py):
    # -1 = the HTTPS port + 1 (a free port when the HTTPS port is 0), 0 = a free port
    azureml_proxy_port: int = -1
    # bytes per second of a background (pending) Copy File between accounts (files/pending.py); 0 = 64 MiB/s
    files_copy_rate: int = 0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.data_dir = Path(settings.data_dir).expanduser().resolve()
        return settings

    def accounts(self) -> dict[str, str]:
        """Storage accounts served by the file endpoint: {name: base64 key}."""
        if not self.storage_accounts:
            return {DEFAULT_STORAGE_ACCOUNT: DEFAULT_STORAGE_KEY}
        return {name: key for name, (key, _sku) in self._parsed_accounts().items()}

    def account_skus(self) -> dict[str, str]:
        """{name: SKU} of the accounts served from settings: `NAME:KEY:SKU` (an ARM SKU name such as Premium_LRS,
        which makes a premium FileStorage account: NFS shares, provisioned shares) or Standard_LRS by default."""
        if not self.storage_accounts:
            return {DEFAULT_STORAGE_ACCOUNT: "Standard_LRS"}
        return {name: sku for name, (_key, sku) in self._parsed_accounts().items()}

    def _parsed_accounts(self) -> dict[str, tuple[str, str]]:
        out = {}
        for item in self.storage_accounts:
            name, sep, key = item.partition(":")
            key, _, sku = key.partition(":")      # base64 keys hold no ':'
            if not sep or not name or not key:
                raise ValueError(f"--storage-account expects NAME:KEY[:SKU], got {name!r}:...")
            if sku and not re.match(r"^(Standard|Premium)(V2)?_(LRS|ZRS|GRS|RAGRS|GZRS|RAGZRS)$", sku):
                raise ValueError(f"--storage-account {name}: unknown SKU {sku!r} (an ARM SKU name such as "
                                 "Standard_LRS or Premium_LRS)")
            out[name] = (key, sku or "Standard_LRS")
        return out

    def client_secrets_dict(self) -> dict[str, str]:
        """{client id: secret} the token endpoints accept; empty means any."""
        # the message names the client, never the secret
        return _pairs(self.client_secrets, ":", "--client-secret expects CLIENT_ID:SECRET, got {name!r}:...")

    def image_map_dict(self) -> dict[str, str]:
        return _pairs(self.image_map, "=", "--image-map expects FROM=TO, got {item!r}", strip=True)


def _pairs(items, sep: str, bad: str, strip: bool = False) -> dict[str, str]:
    """{name: value} of NAME<sep>VALUE items; ValueError(bad.format(item=, name=)) for one without both parts."""
    out = {}
    for item in items:
        name, found, value = item.partition(sep)
        if not found or not name or not value:
            raise ValueError(bad.format(item=item, name=name))
        out[name.strip() if strip else name] = value.strip() if strip else value
    return out


def _parse(name: str, type_: str, raw: str):
    if type_ == "int":
        return int(raw)
    if type_ == "float":
        return float(raw)
    if type_ == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if type_ == "Path":
        return Path(raw)
    if type_.startswith("list"):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw
