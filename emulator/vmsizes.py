"""Virtual machine sizes Batch AI clusters used: vCPUs, NVIDIA GPUs and memory per node, and the quota family.

Only these sizes (and those added with `--vm-size NAME:GPUS:CPUS:MEM_GB`) are accepted for new clusters.

Numbers are from the Azure VM size pages (docs.microsoft.com/azure/virtual-machines/linux/sizes-gpu, the NC, NCv2,
NCv3, ND, NDv2 and NV/NVv3 series tables, and sizes-general / sizes-compute for CPU sizes), as listed in 2018-2020.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import EmulatorError
from .properties import ClusterProperties


@dataclass(frozen=True)
class VmSize:
    name: str
    vcpus: int
    gpus: int
    family: str   # as in the Usages names: "Standard NC Family"
    memory_gb: float = 0.0   # 0: not known (a size outside the table, from an old record)


_TABLE = [
    # name, vCPUs, GPUs, memory GiB, quota family
    # NC-series (K80): NC6 1 GPU, NC12 2, NC24 and NC24r 4
    ("STANDARD_NC6", 6, 1, 56, "Standard NC Family"),
    ("STANDARD_NC12", 12, 2, 112, "Standard NC Family"),
    ("STANDARD_NC24", 24, 4, 224, "Standard NC Family"),
    ("STANDARD_NC24R", 24, 4, 224, "Standard NC Family"),
    # NCv2-series (P100)
    ("STANDARD_NC6S_V2", 6, 1, 112, "Standard NCv2 Family"),
    ("STANDARD_NC12S_V2", 12, 2, 224, "Standard NCv2 Family"),
    ("STANDARD_NC24S_V2", 24, 4, 448, "Standard NCv2 Family"),
    ("STANDARD_NC24RS_V2", 24, 4, 448, "Standard NCv2 Family"),
    # NCv3-series (V100)
    ("STANDARD_NC6S_V3", 6, 1, 112, "Standard NCv3 Family"),
    ("STANDARD_NC12S_V3", 12, 2, 224, "Standard NCv3 Family"),
    ("STANDARD_NC24S_V3", 24, 4, 448, "Standard NCv3 Family"),
    ("STANDARD_NC24RS_V3", 24, 4, 448, "Standard NCv3 Family"),
    # ND-series (P40) and NDv2 (8x V100)
    ("STANDARD_ND6S", 6, 1, 112, "Standard ND Family"),
    ("STANDARD_ND12S", 12, 2, 224, "Standard ND Family"),
    ("STANDARD_ND24S", 24, 4, 448, "Standard ND Family"),
    ("STANDARD_ND24RS", 24, 4, 448, "Standard ND Family"),
    ("STANDARD_ND40S_V2", 40, 8, 672, "Standard NDv2 Family"),
    ("STANDARD_ND40RS_V2", 40, 8, 672, "Standard NDv2 Family"),
    # NV-series (M60) and NVv3
    ("STANDARD_NV6", 6, 1, 56, "Standard NV Family"),
    ("STANDARD_NV12", 12, 2, 112, "Standard NV Family"),
    ("STANDARD_NV24", 24, 4, 224, "Standard NV Family"),
    ("STANDARD_NV12S_V3", 12, 1, 112, "Standard NVv3 Family"),
    ("STANDARD_NV24S_V3", 24, 2, 224, "Standard NVv3 Family"),
    ("STANDARD_NV48S_V3", 48, 4, 448, "Standard NVv3 Family"),
    # CPU sizes the Batch AI recipes used
    ("STANDARD_D1", 1, 0, 3.5, "Standard D Family"),
    ("STANDARD_D2", 2, 0, 7, "Standard D Family"),
    ("STANDARD_D3", 4, 0, 14, "Standard D Family"),
    ("STANDARD_D4", 8, 0, 28, "Standard D Family"),
    ("STANDARD_D1_V2", 1, 0, 3.5, "Standard Dv2 Family"),
    ("STANDARD_D2_V2", 2, 0, 7, "Standard Dv2 Family"),
    ("STANDARD_D3_V2", 4, 0, 14, "Standard Dv2 Family"),
    ("STANDARD_D4_V2", 8, 0, 28, "Standard Dv2 Family"),
    ("STANDARD_D5_V2", 16, 0, 56, "Standard Dv2 Family"),
    ("STANDARD_D11_V2", 2, 0, 14, "Standard Dv2 Family"),
    ("STANDARD_D12_V2", 4, 0, 28, "Standard Dv2 Family"),
    ("STANDARD_D13_V2", 8, 0, 56, "Standard Dv2 Family"),
    ("STANDARD_D14_V2", 16, 0, 112, "Standard Dv2 Family"),
    ("STANDARD_D2_V3", 2, 0, 8, "Standard Dv3 Family"),
    ("STANDARD_D4_V3", 4, 0, 16, "Standard Dv3 Family"),
    ("STANDARD_D8_V3", 8, 0, 32, "Standard Dv3 Family"),
    ("STANDARD_D16_V3", 16, 0, 64, "Standard Dv3 Family"),
    ("STANDARD_F2S_V2", 2, 0, 4, "Standard FSv2 Family"),
    ("STANDARD_F4S_V2", 4, 0, 8, "Standard FSv2 Family"),
    ("STANDARD_F8S_V2", 8, 0, 16, "Standard FSv2 Family"),
    ("STANDARD_F16S_V2", 16, 0, 32, "Standard FSv2 Family"),
    ("STANDARD_A1", 1, 0, 1.75, "Standard A0-A7 Family"),
    ("STANDARD_A2", 2, 0, 3.5, "Standard A0-A7 Family"),
    ("STANDARD_A3", 4, 0, 7, "Standard A0-A7 Family"),
    ("STANDARD_A4", 8, 0, 14, "Standard A0-A7 Family"),
]

SIZES = {name: VmSize(name, cpus, gpus, fam, float(mem)) for name, cpus, gpus, mem, fam in _TABLE}

# The dedicated vCPU quota a new subscription had in a region (the ListUsages example: 600). Usages reports it as
# the limit, and no cluster is allocated nodes past it.
REGIONAL_VCPU_QUOTA = 600


def max_nodes(size: VmSize) -> int:
    """The most nodes of `size` that the regional vCPU quota allows one cluster."""
    return REGIONAL_VCPU_QUOTA // size.vcpus


def add(specs: list[str]) -> None:
    """Add sizes given as NAME:GPUS:CPUS:MEM_GB (the --vm-size flag; BATCHAI_EMULATOR_VM_SIZES, comma-separated).
    Sizes are one table for the whole process: a size added for one emulator is known to every emulator in it."""
    for item in specs:
        parts = item.strip().split(":")
        try:
            name, gpus, cpus, mem = parts[0].strip().upper(), int(parts[1]), int(parts[2]), float(parts[3])
            if len(parts) != 4 or not name or gpus < 0 or cpus < 1 or mem <= 0:
                raise ValueError
        except (ValueError, IndexError):
            raise ValueError(f"--vm-size expects NAME:GPUS:CPUS:MEM_GB (e.g. Standard_NC4as_T4_v3:1:4:28), "
                             f"got {item!r}") from None
        m = re.match(r"STANDARD_([A-Z]+)", name)
        SIZES[name] = VmSize(name, cpus, gpus, f"Standard {m.group(1)} Family" if m else "Custom Family", mem)


def check(name: str, target: str = "properties.vmSize") -> None:
    """A 400 for a size the table does not have. The service's exact code for an unknown size is unverified: the
    generic ARM InvalidPropertyValue naming vmSize."""
    if (name or "").upper() not in SIZES:
        gpu = ", ".join(n for n in SIZES if n.startswith("STANDARD_N") and n.count("_") == 1)
        raise EmulatorError(400, "InvalidPropertyValue", f"The value '{name}' of vmSize is not an Azure VM size this "
                            f"emulator knows. GPU sizes: {gpu}; CPU sizes such as STANDARD_D2 or STANDARD_D2_V2. Add "
                            "others with --vm-size NAME:GPUS:CPUS:MEM_GB.", target=target)


def lookup(name: str) -> VmSize:
    """The size by name, case-insensitively; sizes outside the table (records made before sizes were checked)
    take their vCPUs from the number in the name (Azure's naming convention, e.g. Standard_E8s_v3 -> 8), no GPUs
    and no known memory."""
    key = name.upper()
    if key in SIZES:
        return SIZES[key]
    m = re.match(r"STANDARD_([A-Z]+)(\d+)", key)
    cpus = int(m.group(2)) if m else 1
    family = f"Standard {m.group(1)} Family" if m else "Standard Family"
    return VmSize(key, max(cpus, 1), 0, family)


def max_node_count(cluster: ClusterProperties) -> tuple[int, str]:
    """(the most nodes a job on the cluster can get, what sets that limit): the autoScale maximum, the manual
    target, and the regional vCPU quota for every cluster. A manual cluster at 0 nodes is bounded by the quota only
    (the service's own tests queue jobs on one and scale it up later)."""
    size = lookup(cluster.vm_size)
    quota = (max_nodes(size), f"the regional quota of {REGIONAL_VCPU_QUOTA} vCPUs allows {max_nodes(size)} "
                              f"node(s) of size {size.name}")
    scale = cluster.scale_settings
    if scale is not None and scale.auto_scale is not None:
        hi = scale.auto_scale.maximum_node_count
        limit = (hi, f"its autoScale maximumNodeCount is {hi}")
    elif scale is not None and scale.manual is not None and scale.manual.target_node_count > 0:
        target = scale.manual.target_node_count
        limit = (target, f"its manual targetNodeCount is {target}")
    else:
        limit = quota
    return min(limit, quota, key=lambda lim: lim[0])
