"""Checkpoints: state dicts and plain metadata, loaded with ``torch.load(weights_only=True)``.

A checkpoint is one file ``update_NNNNNN.pt`` holding a dict of tensors, numbers, strings,
lists and dicts only, so loading never runs code from the file (PyTorch's restricted
unpickler refuses anything else). It is written atomically: a crash mid-write leaves the
previous checkpoint as the latest one. Anything that is not such a file, from another
program or edited by hand, fails with :class:`CheckpointError` naming the file and the
problem.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from swarm.config import ConfigError
from swarm.io import write_atomic

FORMAT = "swarm-learn-checkpoint"
VERSION = 1
REQUIRED = ("format", "version", "update", "env_steps", "job", "net_spec", "model")
_NAME = re.compile(r"^update_(\d{6,})\.pt$")


class CheckpointError(ConfigError):
    """A checkpoint file is missing, foreign, tampered with, or from an incompatible run."""


def checkpoint_path(directory: Path, update: int) -> Path:
    return Path(directory) / f"update_{update:06d}.pt"


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plain values and state dicts) with the format tag, atomically."""
    data = {"format": FORMAT, "version": VERSION, **payload}
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise ValueError(f"checkpoint payload lacks {missing}")
    buffer = io.BytesIO()
    torch.save(data, buffer)
    write_atomic(Path(path), lambda tmp: tmp.write_bytes(buffer.getvalue()))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load and check a checkpoint; any problem is one :class:`CheckpointError` line."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"checkpoint {path}: not a checkpoint file (not a torch zip archive)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # restricted unpickler refusals, truncated or corrupted archives
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"checkpoint {path}: refused to load ({first}); it holds objects other than "
            "tensors and plain values, or is damaged"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: not a {FORMAT} file")
    if data.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {path}: format version {data.get('version')!r}; this program reads "
            f"version {VERSION}"
        )
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise CheckpointError(f"checkpoint {path}: lacks {', '.join(missing)}")
    return data


def latest_checkpoint(directory: Path) -> Path | None:
    """The checkpoint with the highest update number in ``directory``, if any."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return max(found)[1] if found else None


def resolve_checkpoint(path: Path) -> Path:
    """A checkpoint file from a file, a run folder or its ``checkpoints/`` folder."""
    path = Path(path)
    if path.is_file():
        return path
    for folder in (path / "checkpoints", path):
        found = latest_checkpoint(folder)
        if found is not None:
            return found
    raise CheckpointError(f"checkpoint {path}: no update_*.pt file there or in its checkpoints/")
