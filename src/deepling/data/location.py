"""Where data sets live: the one rule every part of deepling (CLI, lessons, experiments, the data
set classes) follows.

A data set called ``name`` (``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``) is looked up in
  1. ``$DEEPLING_DATA/<name>`` when the environment variable ``DEEPLING_DATA`` is set (and nowhere else);
  2. otherwise ``../shared/data/<name>`` when that directory exists, ``..`` being the parent of the
     working directory, of the checkout or of its parent (a worktree sits one level deeper);
  3. otherwise ``~/.cache/deepling/<name>``.
Downloads go to ``$DEEPLING_DATA/<name>`` or ``~/.cache/deepling/<name>``. CIFAR-10 is also found
under the folder name ``cifar10-subset`` (the shared 5000-image subset).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_ENV", "FOLDERS", "default_data_dir", "shared_data_dirs", "dataset_dir"]

DATA_ENV = "DEEPLING_DATA"
# data set name -> folder names searched in each base directory, the first is where downloads go
FOLDERS: dict[str, tuple[str, ...]] = {
    "mnist": ("mnist",),
    "fashion-mnist": ("fashion-mnist",),
    "cifar10": ("cifar10", "cifar10-subset"),
}


def default_data_dir() -> Path:
    """The base directory downloads go to: ``$DEEPLING_DATA`` or ``~/.cache/deepling``."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else Path.home() / ".cache" / "deepling"


def shared_data_dirs() -> list[Path]:
    """The existing ``../shared/data`` directories (parents of the working directory and the checkout)."""
    checkout = Path(__file__).resolve().parents[3]  # src/deepling/data/location.py -> the checkout
    out: list[Path] = []
    for base in (Path.cwd().parent, checkout.parent, checkout.parent.parent):
        d = base / "shared" / "data"
        if d.is_dir() and d not in out:
            out.append(d)
    return out


def dataset_dir(name: str) -> Path:
    """The directory of data set ``name`` by the rule in the module docstring (it need not exist yet)."""
    folders = FOLDERS.get(name, (name,))
    if os.environ.get(DATA_ENV):
        bases = [default_data_dir()]
    else:
        bases = shared_data_dirs() + [default_data_dir()]
    for base in bases:
        for folder in folders:
            if (base / folder).is_dir():
                return base / folder
    return default_data_dir() / folders[0]
