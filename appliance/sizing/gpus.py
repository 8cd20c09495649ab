"""The GPUs customers own: memory bounds what fits, bandwidth bounds how fast it decodes.

Figures are NVIDIA's data sheets (H200, H100/H800 SXM, H20, A100/A800, L40S, L20,
GeForce RTX 4090). The marketed capacity is close to GiB in practice (nvidia-smi: H100
81,559 MiB, H200 143,771 MiB), so it is used as GiB; bandwidth is in decimal TB/s as
NVIDIA quotes it. A800 and H800 are the export variants of A100 and H100 with the same
memory system (only NVLink bandwidth differs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from appliance.errors import InvalidRequest
from appliance.sizing.catalog import GIB


class Interconnect(StrEnum):
    NVLINK = "NVLink"
    PCIE = "PCIe"


@dataclass(frozen=True, slots=True)
class GpuSpec:
    """One GPU model: what bounds how much fits (memory) and how fast it decodes."""

    key: str
    name: str
    memory_gib: float
    bandwidth_tbs: float
    # Native FP8 tensor cores (Hopper, Ada). Ampere runs FP8 checkpoints weight-only
    # (vLLM's FP8 Marlin kernel) and keeps the KV cache in BF16.
    native_fp8: bool
    interconnect: Interconnect

    @property
    def memory_bytes(self) -> float:
        return self.memory_gib * GIB

    @property
    def bandwidth_bytes_s(self) -> float:
        return self.bandwidth_tbs * 1e12


GPUS: dict[str, GpuSpec] = {
    g.key: g
    for g in (
        GpuSpec("H200", "NVIDIA H200 141GB", 141, 4.8, True, Interconnect.NVLINK),
        GpuSpec("H100", "NVIDIA H100 SXM 80GB", 80, 3.35, True, Interconnect.NVLINK),
        GpuSpec("H800", "NVIDIA H800 SXM 80GB", 80, 3.35, True, Interconnect.NVLINK),
        GpuSpec("H20", "NVIDIA H20 96GB", 96, 4.0, True, Interconnect.NVLINK),
        GpuSpec("A100-80G", "NVIDIA A100 SXM 80GB", 80, 2.039, False, Interconnect.NVLINK),
        GpuSpec("A100-40G", "NVIDIA A100 SXM 40GB", 40, 1.555, False, Interconnect.NVLINK),
        GpuSpec("A800-80G", "NVIDIA A800 SXM 80GB", 80, 2.039, False, Interconnect.NVLINK),
        GpuSpec("A800-40G", "NVIDIA A800 40GB", 40, 1.555, False, Interconnect.NVLINK),
        GpuSpec("L40S", "NVIDIA L40S 48GB", 48, 0.864, True, Interconnect.PCIE),
        GpuSpec("L20", "NVIDIA L20 48GB", 48, 0.864, True, Interconnect.PCIE),
        GpuSpec("RTX4090", "NVIDIA GeForce RTX 4090 24GB", 24, 1.008, True, Interconnect.PCIE),
    )
}

_ALIASES = {"H100SXM": "H100", "H800SXM": "H800", "4090": "RTX4090", "GEFORCERTX4090": "RTX4090"}
_GPU_COUNT = re.compile(r"^\s*(\d+)\s*[xX×*]\s*(.+?)\s*$")


def _normalise(text: str) -> str:
    """'A100 80GB', 'a100-80g' and 'A100_80G' all become 'A10080G'."""
    return re.sub(r"[^A-Z0-9]", "", text.upper()).replace("GB", "G")


def gpu(name: str) -> GpuSpec:
    """Look a GPU up by a name an admin would type; an ambiguous name is refused."""
    wanted = _normalise(name)
    wanted = _ALIASES.get(wanted, wanted)
    for spec in GPUS.values():
        if _normalise(spec.key) == wanted:
            return spec
    variants = [k for k in GPUS if _normalise(k).startswith(wanted)]
    if len(variants) > 1:
        raise InvalidRequest(f"GPU {name!r} is ambiguous: say one of {', '.join(variants)}")
    raise InvalidRequest(f"unknown GPU {name!r}; known: {', '.join(GPUS)}")


def parse_gpus(text: str) -> tuple[int, GpuSpec]:
    """Parse '8xH20' (or '8×H20', '8*H20') into (8, H20's spec)."""
    match = _GPU_COUNT.match(text)
    if match is None:
        raise InvalidRequest(f"GPUs must read like '8xH20', got {text!r}")
    count = int(match.group(1))
    if count < 1:
        raise InvalidRequest("the GPU count must be at least 1")
    return count, gpu(match.group(2))
