"""Backends for the relaxation terms: the plain torch reference today; fused Triton (GPU) and numba (CPU)
kernels plug in here behind the same functions in `gaus_fast.relax`."""
from __future__ import annotations

BACKENDS = ("torch",)


def available_backends(device: str = "cpu") -> list[str]:
    """Backends usable on ``device``, the preferred one first."""
    return ["torch"]
