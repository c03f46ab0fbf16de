"""Atomic writes: a reader (or a resumed run) never sees a half-written file or folder.

Files and folders are created with the modes the user's umask gives (temporary files start
private, 0600/0700, and are opened up before they are renamed into place). Nothing here
removes or renames a path the program did not create itself.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from swarm.config import ConfigError


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def _finite(value: Any) -> Any:
    """JSON has no inf/nan: write them as null rather than as invalid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give: 0666 less the umask."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """The mode ``mkdir`` would give: 0777 less the umask."""
    return 0o777 & ~current_umask()


def staging_dir(final: Path) -> Path:
    """A fresh hidden folder next to ``final`` (``.NAME.XXXXXXXX``) to build it in, with
    ``mkdir``'s usual mode."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    staging.chmod(dir_mode())
    return staging


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write via ``write(tmp_path)`` to a temporary sibling, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    def _write(tmp: Path) -> None:
        tmp.write_text(json.dumps(_finite(data), indent=2, default=_json_default) + "\n")

    write_atomic(path, _write)


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """Parquet (pyarrow) for ``.parquet``, CSV for ``.csv``."""
    path = Path(path)

    def _write(tmp: Path) -> None:
        if path.suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False, engine="pyarrow")

    write_atomic(path, _write)


def publish_dir(staging: Path, final: Path, replace: bool = False) -> None:
    """Move a finished staging folder into place.

    ``final`` must not exist, unless ``replace`` is set by a caller that knows the folder
    there is its own earlier output (an experiment's failed run being redone): then it is
    replaced whole. ``os.rename`` never replaces a non-empty folder, so a folder that
    appeared meanwhile is not lost either.
    """
    final = Path(final)
    if replace and final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=final.parent))
        os.replace(final, old / final.name)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        if final.exists():
            raise FileExistsError(final)
        os.rename(staging, final)
    except OSError:  # something appeared there meanwhile: keep both, say where ours is
        raise ConfigError(
            f"--out {final}: appeared while the run was being written; nothing was "
            f"overwritten, and the results are in {staging}"
        ) from None
