"""Checkpoints: state dicts and plain metadata, loaded with ``torch.load(weights_only=True)``.

A checkpoint is one file ``update_NNNNNN.pt`` holding a dict of tensors, numbers, strings,
lists and dicts only, so loading never runs code from the file (PyTorch's restricted
unpickler refuses anything else). It carries a SHA-256 digest of its contents (every
tensor's dtype, shape and bytes and every plain value, keys in sorted order), checked on
load: the unpickler alone would accept a flipped byte in a tensor, and play a different
policy. It is written atomically: a crash mid-write leaves the previous checkpoint as the
latest one. Anything that is not such a file, from another program or edited by hand, fails
with :class:`CheckpointError` naming the file and the problem.

The digest detects damage and edits by hand or by other tools; it is not a signature (who
can write the file can recompute it).
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import torch

from swarm.config import ConfigError
from swarm.io import write_atomic

FORMAT = "swarm-learn-checkpoint"
VERSION = 2  # 2: the "digest" entry (version 1 had none)
REQUIRED = ("format", "version", "update", "env_steps", "job", "net_spec", "model")
_NAME = re.compile(r"^update_(\d{6,})\.pt$")


class CheckpointError(ConfigError):
    """A checkpoint file is missing, foreign, tampered with, or from an incompatible run."""


def checkpoint_frame(saved: dict[str, Any]) -> str:
    """The observation frame a checkpoint's actor was trained in: the env argument ``frame``
    of its job (stored with the other encoder settings, ``k_neighbors``, ``inbox_slots``);
    a checkpoint from before body frames existed has none and was trained in "world"."""
    job = saved.get("job") or {}
    return str((job.get("env_config") or {}).get("frame", "world"))


def checkpoint_path(directory: Path, update: int) -> Path:
    return Path(directory) / f"update_{update:06d}.pt"


def _feed(h: Any, value: Any) -> None:
    """Feed ``value`` into the hash ``h`` in a canonical, type-tagged, length-prefixed form,
    so that no two different payloads feed the same bytes."""

    def blob(tag: bytes, data: bytes) -> None:
        h.update(tag + struct.pack(">Q", len(data)) + data)

    if value is None:
        h.update(b"N")
    elif isinstance(value, bool):  # before int: bool is an int subclass
        h.update(b"T" if value else b"F")
    elif isinstance(value, int):
        blob(b"i", str(value).encode())
    elif isinstance(value, float):
        h.update(b"f" + struct.pack(">d", value))  # bit-exact, nan and -0.0 included
    elif isinstance(value, str):
        blob(b"s", value.encode("utf-8", "surrogatepass"))
    elif isinstance(value, torch.Tensor):
        if value.layout != torch.strided or value.is_quantized:
            raise TypeError(f"a {value.layout} tensor (only dense tensors are stored)")
        flat = value.detach().cpu().contiguous().reshape(-1)
        blob(b"x", f"{value.dtype}|{tuple(value.shape)}".encode())
        blob(b"b", flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    elif isinstance(value, list | tuple):  # torch.Size is a tuple
        h.update((b"l" if isinstance(value, list) else b"t") + struct.pack(">Q", len(value)))
        for item in value:
            _feed(h, item)
    elif isinstance(value, dict):  # sorted by the keys' own canonical bytes: int keys too
        keyed = []
        for key, item in value.items():
            kh = hashlib.sha256()
            _feed(kh, key)
            keyed.append((kh.digest(), key, item))
        keyed.sort(key=lambda entry: entry[0])
        h.update(b"d" + struct.pack(">Q", len(keyed)))
        for key_digest, _, item in keyed:
            h.update(key_digest)
            _feed(h, item)
    else:
        raise TypeError(f"a {type(value).__name__} value (allowed: tensors and plain values)")


def payload_digest(data: dict[str, Any]) -> str:
    """SHA-256 (hex) of everything in ``data`` but its ``digest`` entry."""
    h = hashlib.sha256()
    _feed(h, {key: value for key, value in data.items() if key != "digest"})
    return h.hexdigest()


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plain values and state dicts) with the format tag and its digest,
    atomically."""
    data = {"format": FORMAT, "version": VERSION, **payload}
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise ValueError(f"checkpoint payload lacks {missing}")
    try:
        data["digest"] = payload_digest(data)
    except TypeError as err:
        raise ValueError(f"checkpoint payload holds {err}") from None
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
        why = " (version 1 predates the digest: train again)" if data.get("version") == 1 else ""
        raise CheckpointError(
            f"checkpoint {path}: format version {data.get('version')!r}; this program reads "
            f"version {VERSION} only{why}"
        )
    try:
        digest = payload_digest(data)
    except TypeError as err:
        raise CheckpointError(f"checkpoint {path}: holds {err}; it was not written here") from None
    if data.get("digest") != digest:
        raise CheckpointError(
            f"checkpoint {path}: the digest does not match its contents (changed or damaged "
            "after it was written); refusing it"
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
