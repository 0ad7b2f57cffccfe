"""Where the shared benchmark data lives: one setting, ``GAUS_FAST_DATA``, defaulting to ../shared/datasets."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """The benchmark data folder (it may not exist: callers check and skip with a reason)."""
    env = os.environ.get("GAUS_FAST_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return (REPO_ROOT / ".." / "shared" / "datasets").resolve()


def dataset(name: str) -> Path:
    """A sub-folder of the data root, e.g. ``dataset("heurigym-operator-scheduling")``."""
    return data_root() / name
