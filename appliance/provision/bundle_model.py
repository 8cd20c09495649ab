"""Which model an offline bundle carries, read on the controller before anything is copied.

The bundle records its files in ``manifest.json`` (see ``bundle``): each model is the
directory ``model/<name>/``, and its ``config.json`` states the architecture. Matching those
figures against ``appliance.sizing``'s catalogue tells which catalogue key the weights are,
so preflight can refuse a ``vllm_model_key`` that would make the planner size a different
model (671B FP8 settings for a 32B AWQ checkpoint) before vLLM fails on the node.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.sizing.catalog import MODELS, ModelArch, Quantization

MANIFEST = "manifest.json"
TOP = "bundle"


@dataclass(frozen=True, slots=True)
class BundledModel:
    """One ``model/<name>/`` directory of a bundle, as far as its config.json tells."""

    name: str
    arch: ModelArch | None  # None: not a catalogue model (a test model, a fine-tune)
    quantization: Quantization

    def describe(self) -> str:
        what = self.arch.name if self.arch is not None else "a model outside the catalogue"
        return f"{self.name} ({what}, {self.quantization.value})"


@dataclass(frozen=True, slots=True)
class BundleContents:
    """The bundle's archive size and its models, by directory name."""

    size_bytes: int
    models: dict[str, BundledModel]


def identify(config: dict[str, Any]) -> ModelArch | None:
    """The catalogue model whose figures a Hugging Face ``config.json`` states, if any."""
    figures = (
        config.get("num_hidden_layers"),
        config.get("hidden_size"),
        config.get("num_attention_heads"),
        config.get("vocab_size"),
    )
    for arch in MODELS.values():
        if figures == (arch.layers, arch.hidden, arch.heads, arch.vocab):
            return arch
    return None


def quantization_of(config: dict[str, Any], arch: ModelArch | None) -> Quantization:
    """The checkpoint's weight format: its quantization_config, else the published format."""
    method = str((config.get("quantization_config") or {}).get("quant_method", "")).lower()
    if method in {q.value for q in Quantization}:
        return Quantization(method)
    return arch.released if arch is not None else Quantization.BF16


def _model_names(manifest: dict[str, Any]) -> list[str]:
    names = {
        parts[1]
        for path in manifest.get("files", {})
        if len(parts := path.split("/")) > 2 and parts[0] == "model"
    }
    return sorted(names)


def _from_members(read: dict[str, bytes], names: list[str]) -> dict[str, BundledModel]:
    models = {}
    for name in names:
        raw = read.get(f"model/{name}/config.json")
        config: dict[str, Any] = json.loads(raw) if raw else {}
        arch = identify(config)
        models[name] = BundledModel(name, arch, quantization_of(config, arch))
    return models


def read_contents(archive: Path) -> BundleContents:
    """The models of a bundle tar (or of an unpacked ``bundle/`` directory).

    A tar is read front to back once: the manifest comes before ``model/``, and the loop
    stops at the last config.json it needs, so a 400 GiB archive costs a few header reads.
    Raises OSError, tarfile.TarError or ValueError when the archive is not a bundle.
    """
    if archive.is_dir():
        root = archive / TOP if (archive / TOP / MANIFEST).exists() else archive
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        names = _model_names(manifest)
        read = {
            f"model/{n}/config.json": (root / "model" / n / "config.json").read_bytes()
            for n in names
            if (root / "model" / n / "config.json").is_file()
        }
        size = sum(int(f.get("size", 0)) for f in manifest.get("files", {}).values())
        return BundleContents(size, _from_members(read, names))
    found: dict[str, bytes] = {}
    wanted: set[str] | None = None
    with tarfile.open(archive) as tar:
        for member in tar:
            path = member.name.removeprefix(f"{TOP}/")
            if path == MANIFEST or (wanted is not None and path in wanted):
                handle = tar.extractfile(member)
                found[path] = handle.read() if handle is not None else b""
            if path == MANIFEST:
                names = _model_names(json.loads(found[path]))
                wanted = {f"model/{n}/config.json" for n in names}
            if wanted is not None and wanted <= found.keys():
                break
    if MANIFEST not in found:
        raise ValueError(f"{archive} has no {TOP}/{MANIFEST}; build it with appliance bundle build")
    names = _model_names(json.loads(found[MANIFEST]))
    return BundleContents(archive.stat().st_size, _from_members(found, names))
