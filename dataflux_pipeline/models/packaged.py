"""Helpers for models whose weights ship inside packages from the package index: whether
the package is installed (one log line when it is not, so an optional analyzer switches
itself off without repeating itself per file), which onnxruntime providers to ask for, and
a version string that changes when the weights do."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from functools import cache, lru_cache
from pathlib import Path

log = logging.getLogger(__name__)


@cache
def absent(module: str, what: str, extra: str) -> bool:
    """True (and one log line per process) when `module` cannot be imported."""
    if importlib.util.find_spec(module) is not None:
        return False
    log.info(
        "%s is off: %s is not installed (pip install 'dataflux-pipeline[%s]')", what, module, extra
    )
    return True


def onnx_providers(device: str = "auto") -> list[str]:
    """CUDA first when onnxruntime-gpu sees a GPU and the device setting allows it."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device != "cpu" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


@lru_cache(maxsize=32)
def weights_digest(*paths: Path) -> str:
    """First 12 hex digits of the SHA-256 over the weight files, in order: stored beside
    every row a model writes, so a changed weights file is a new model version."""
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()[:12]


def package_version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)
