"""YOURS to replace: the training checkpoint (weights-only, a sha256 digest beside it, a bad file moved aside).

A checkpoint lets a preempted run resume. It is read with `torch.load(weights_only=True)`, so it holds only
tensors and plain dicts, lists, numbers and strings, and a file someone else left there cannot run code. Its
sha256 digest (`train.pt.sha256`, `sha256sum` lines) catches a file cut short or changed after saving before it is
unpickled. The two files cannot be renamed together, so a save lists the new digest beside the old one, renames the
checkpoint, then drops the old digest: killed at any instant, the checkpoint on disk matches a listed digest.
An unusable checkpoint is never fatal: one warning names the file and the reason, the file moves to
`train.pt.corrupt` and training starts fresh.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from digitnet.storage import save_failed

logger = logging.getLogger(__name__)

REQUIRED_KEYS = ("fingerprint", "history", "model", "optimizer")


class UnusableCheckpoint(Exception):
    """The checkpoint file cannot be trusted or read; the message says why."""


def digest_path(path: Path) -> Path:
    """Where the sha256 digest of `path` is kept: beside it, `.sha256` appended."""
    return path.with_name(path.name + ".sha256")


def aside_path(path: Path) -> Path:
    """Where an unusable checkpoint is moved, so it can be inspected and is not read again."""
    return path.with_name(path.name + ".corrupt")


def _move_into_place(partial: Path, path: Path) -> None:
    """Flush `partial` to disk, then rename it over `path`: readers see the old file or the new, never half."""
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(path)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write `state` to `path` with its digest; killed at any point, the checkpoint left matches a listed digest.

    A full disk (or any refused write) is SaveFailed, one line naming the file; the previous checkpoint stays usable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        torch.save(state, partial)
        new = _sha256_of(partial)
        previous = [_sha256_of(path)] if path.is_file() else []  # the file on disk, whatever the digests say
        _write_digests(path, [new, *previous])
    except (OSError, RuntimeError) as error:
        raise save_failed(path, error, partial) from error
    _move_into_place(partial, path)
    if previous:
        try:
            _write_digests(path, [new])
        except OSError as error:  # the new checkpoint is in place and listed: only the old digest stays listed too
            raise save_failed(digest_path(path), error) from error


def _write_digests(path: Path, digests: list[str]) -> None:
    partial = path.with_name(path.name + ".sha256.partial")
    try:
        partial.write_text("".join(f"{digest}  {path.name}\n" for digest in digests), encoding="utf-8")
    except OSError:
        partial.unlink(missing_ok=True)
        raise
    _move_into_place(partial, digest_path(path))


def _recorded_digests(path: Path) -> list[str]:
    """The well-formed sha256 digests listed for `path` (none when the digest file is missing or garbled)."""
    try:
        lines = digest_path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    fields = [line.split()[0] for line in lines if line.strip()]
    return [field for field in fields if re.fullmatch(r"[0-9a-f]{64}", field)]


def preempted_marker(path: Path) -> Path:
    """The file a preempted run leaves beside its checkpoint (its content: the last finished epoch)."""
    return path.with_name("PREEMPTED")


def remove_checkpoint(path: Path) -> None:
    """Delete a checkpoint and its digest (the run is complete: the next one starts fresh)."""
    path.unlink(missing_ok=True)
    digest_path(path).unlink(missing_ok=True)


def _load_error_reason(error: Exception) -> str:
    """One line from torch's multi-line load errors: the unpickler's own complaint, else the first sentence."""
    text = str(error)
    found = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    if found:
        detail = found.group(1).split(" was not an allowed global")[0].strip()
    else:
        detail = text.strip().splitlines()[0].split(". ")[0].rstrip(".") if text.strip() else ""
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _read_verified(path: Path) -> dict[str, Any]:
    """The checkpoint's payload, or UnusableCheckpoint saying what is wrong with it."""
    data = path.read_bytes()
    if not data:
        raise UnusableCheckpoint("the file is empty")
    digest_file = digest_path(path)
    if not digest_file.is_file():
        raise UnusableCheckpoint(f"its digest {digest_file} is missing")
    recorded = _recorded_digests(path)
    if not recorded:
        raise UnusableCheckpoint(f"its digest {digest_file} is not a sha256 line")
    if hashlib.sha256(data).hexdigest() not in recorded:
        raise UnusableCheckpoint(f"its sha256 does not match {digest_file} (cut short or changed after saving)")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise UnusableCheckpoint(f"a weights-only load refused it ({_load_error_reason(error)})") from error
    if not isinstance(state, dict) or any(key not in state for key in REQUIRED_KEYS):
        raise UnusableCheckpoint(f"it is not a training checkpoint (expected the keys {', '.join(REQUIRED_KEYS)})")
    return state


def load_checkpoint(path: Path | None, fingerprint: str, *, is_main: bool = True) -> dict[str, Any] | None:
    """The checkpoint of this run (same params and data), or None to start fresh.

    An unusable file gets one warning and is moved aside by the main process only (`is_main`), so under torchrun
    the other ranks neither repeat the warning nor race to move it; every rank then starts fresh.
    """
    if path is None or not path.is_file():
        return None
    try:
        state = _read_verified(path)
    except FileNotFoundError:  # the main process moved it aside while this rank was reading
        return None
    except UnusableCheckpoint as problem:
        if is_main:
            aside = aside_path(path)
            path.replace(aside)
            digest_file = digest_path(path)
            if digest_file.is_file():
                digest_file.replace(digest_path(aside))
            logger.warning("checkpoint %s is unusable: %s; moved it to %s, training starts fresh", path, problem, aside)
        return None
    if state["fingerprint"] != fingerprint:
        logger.info("ignoring checkpoint %s: it belongs to other params or data", path)
        return None
    return state
