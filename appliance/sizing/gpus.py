"""The GPUs customers own: memory bounds what fits, bandwidth bounds how fast it decodes.

Figures are NVIDIA's data sheets (H200, H100/H800 SXM, H20, A100/A800, L40S, L20,
GeForce RTX 4090). The marketed capacity is close to GiB in practice (nvidia-smi: H100
81,559 MiB, H200 143,771 MiB), so it is used as GiB; bandwidth is in decimal TB/s as
NVIDIA quotes it. A800 and H800 are the export variants of A100 and H100 with the same
memory system (only NVLink bandwidth differs).

Not from a public vendor sheet, and marked so in their entries: the H20 141 GB (HBM3e, the
H200's memory system; server vendors list it, NVIDIA publishes no sheet), the Ascend 910B
(Atlas 800I A2: 8 NPUs of 64 GB HBM2e; 1.6 TB/s is the commonly cited figure), the Ascend
910C (Atlas 800I A3; each package is two dies that ``npu-smi`` and vllm-ascend see as two
64 GB NPUs, so it is catalogued per die: an A3 server is 16x910C) and the Hygon K100 AI
(64 GB HBM2e; its bandwidth is an estimate). A plan on them is a sizing estimate to check
with ``appliance bench``.

What a card can run matters as much as its memory: ``fp8`` says whether FP8 runs natively
(Hopper, Ada), weight-only (Ampere: vLLM's FP8 Marlin kernel, BF16 KV cache) or not at all
(Ascend, Hygon: no FP8 units and no Marlin); ``fp4_experts`` whether vLLM runs MXFP4 MoE
experts on it (Hopper, by dequantizing kernels; native FP4 is Blackwell's, not catalogued);
``sparse_attention`` whether vLLM's FlashMLA sparse and DeepGEMM kernels that DeepSeek-V3.2
and V4 need run on it (Hopper and Blackwell only, per the V3.2 recipe).
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
    HCCS = "HCCS"


class Fp8(StrEnum):
    """How FP8 weights run on the card."""

    NATIVE = "native"
    WEIGHT_ONLY = "weight-only"
    NONE = "none"


class Backend(StrEnum):
    """Which vLLM build serves the card."""

    CUDA = "cuda"
    ASCEND = "ascend"  # vllm-ascend
    DCU = "dcu"  # Hygon's DTK build of vLLM


@dataclass(frozen=True, slots=True)
class GpuSpec:
    """One GPU model: what bounds how much fits (memory) and how fast it decodes."""

    key: str
    name: str
    memory_gib: float
    bandwidth_tbs: float
    fp8: Fp8
    interconnect: Interconnect
    fp4_experts: bool = False
    sparse_attention: bool = False
    backend: Backend = Backend.CUDA
    source: str = "vendor data sheet"

    @property
    def native_fp8(self) -> bool:
        """FP8 tensor cores (Hopper, Ada): FP8 compute and an FP8 KV cache."""
        return self.fp8 is Fp8.NATIVE

    @property
    def int4_marlin(self) -> bool:
        """AWQ/GPTQ int4 checkpoints run through vLLM's CUDA Marlin kernels."""
        return self.backend is Backend.CUDA

    @property
    def memory_bytes(self) -> float:
        return self.memory_gib * GIB

    @property
    def bandwidth_bytes_s(self) -> float:
        return self.bandwidth_tbs * 1e12


_NV = Interconnect.NVLINK
_PCIE = Interconnect.PCIE
_UNVERIFIED = "not from a public vendor sheet: an estimate"


def _hopper(
    key: str, name: str, memory_gib: float, bandwidth_tbs: float, source: str = "vendor data sheet"
) -> GpuSpec:
    """A Hopper card: native FP8, MXFP4 experts and the sparse-attention kernels."""
    return GpuSpec(
        key,
        name,
        memory_gib,
        bandwidth_tbs,
        Fp8.NATIVE,
        _NV,
        fp4_experts=True,
        sparse_attention=True,
        source=source,
    )


GPUS: dict[str, GpuSpec] = {
    g.key: g
    for g in (
        _hopper("H200", "NVIDIA H200 141GB", 141, 4.8),
        _hopper("H100", "NVIDIA H100 SXM 80GB", 80, 3.35),
        _hopper("H800", "NVIDIA H800 SXM 80GB", 80, 3.35),
        _hopper("H20", "NVIDIA H20 96GB", 96, 4.0),
        _hopper("H20-141G", "NVIDIA H20 141GB (HBM3e)", 141, 4.8, source=_UNVERIFIED),
        GpuSpec("A100-80G", "NVIDIA A100 SXM 80GB", 80, 2.039, Fp8.WEIGHT_ONLY, _NV),
        GpuSpec("A100-40G", "NVIDIA A100 SXM 40GB", 40, 1.555, Fp8.WEIGHT_ONLY, _NV),
        GpuSpec("A800-80G", "NVIDIA A800 SXM 80GB", 80, 2.039, Fp8.WEIGHT_ONLY, _NV),
        GpuSpec("A800-40G", "NVIDIA A800 40GB", 40, 1.555, Fp8.WEIGHT_ONLY, _NV),
        GpuSpec("L40S", "NVIDIA L40S 48GB", 48, 0.864, Fp8.NATIVE, _PCIE),
        GpuSpec("L20", "NVIDIA L20 48GB", 48, 0.864, Fp8.NATIVE, _PCIE),
        GpuSpec("RTX4090", "NVIDIA GeForce RTX 4090 24GB", 24, 1.008, Fp8.NATIVE, _PCIE),
        GpuSpec(
            "910B",
            "Huawei Ascend 910B 64GB (Atlas 800I A2)",
            64,
            1.6,
            Fp8.NONE,
            Interconnect.HCCS,
            backend=Backend.ASCEND,
            source=_UNVERIFIED,
        ),
        GpuSpec(
            "910C",
            "Huawei Ascend 910C die 64GB (Atlas 800I A3)",
            64,
            1.6,
            Fp8.NONE,
            Interconnect.HCCS,
            backend=Backend.ASCEND,
            source=_UNVERIFIED,
        ),
        GpuSpec(
            "K100",
            "Hygon DCU K100 AI 64GB",
            64,
            0.896,
            Fp8.NONE,
            _PCIE,
            backend=Backend.DCU,
            source=_UNVERIFIED,
        ),
    )
}

_ALIASES = {
    "H100SXM": "H100",
    "H800SXM": "H800",
    "4090": "RTX4090",
    "GEFORCERTX4090": "RTX4090",
    "H2096G": "H20",
    "H20141": "H20141G",
    "ASCEND910B": "910B",
    "ASCEND910C": "910C",
    "HYGONK100": "K100",
    "K100AI": "K100",
}
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
