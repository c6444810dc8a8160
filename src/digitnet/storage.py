"""YOURS to replace: write a torch file whole or not at all, and say in one line why the disk refused it.

`torch.save` writes through its C++ stream writer, which ends a full disk in `RuntimeError: [enforce fail at
inline_container.cc:...] . unexpected pos ...`, naming neither the file nor the reason. The file is written beside
its final path and renamed over it when complete; a failed save removes the partial file, leaves the old one, and
raises SaveFailed naming the file and, when the disk has no space left, ENOSPC. (Saving through a Python file object
would surface the OSError itself, but changes the archive's inner folder name and so the bytes DVC hashes.)
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import torch

from digitnet.errors import UserFacingError

FULL_BELOW = 1 << 20  # bytes free under which a failed write is put down to a full disk


class SaveFailed(UserFacingError):
    """A model or checkpoint file could not be written (disk full, quota, I/O error): the file and the reason."""


def free_bytes(directory: Path) -> int | None:
    """The bytes an unprivileged writer may still use in `directory`'s file system (None: unknown)."""
    try:
        stats = os.statvfs(directory)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize


def _reason(error: BaseException, directory: Path) -> str:
    code = error.errno if isinstance(error, OSError) else None
    if code is None:
        free = free_bytes(directory)
        code = errno.ENOSPC if free is not None and free < FULL_BELOW else None
    if code is not None:
        hint = ": free some space and run again" if code in (errno.ENOSPC, errno.EDQUOT) else ""
        return f"{os.strerror(code)} ({errno.errorcode.get(code, code)}){hint}"
    first = (str(error).strip().splitlines() or ["no message"])[0]
    return f"torch.save failed ({type(error).__name__}: {first})"


def save_failed(path: Path, error: BaseException, partial: Path | None = None) -> SaveFailed:
    """The one-line error for a failed write of `path`; `partial` (checked for a full disk first) is removed."""
    reason = _reason(error, path.parent)
    if partial is not None:
        partial.unlink(missing_ok=True)
    return SaveFailed(f"cannot write {path}: {reason}; the previous file, if any, is unchanged")


def save_whole(obj: Any, path: Path) -> None:
    """torch.save `obj` to `path` via a partial file and a rename; SaveFailed (one line) when the disk refuses it."""
    partial = path.with_name(path.name + ".partial")
    try:
        torch.save(obj, partial)
    except (OSError, RuntimeError) as error:
        raise save_failed(path, error, partial) from error
    partial.replace(path)
