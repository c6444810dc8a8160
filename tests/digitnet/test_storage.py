"""A full disk while saving the model or a checkpoint: one line naming the file and ENOSPC (torch's own error is a
C++ `enforce fail` naming neither), the partial file removed, the previous file unchanged and still usable."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

import digitnet.storage as storage
from digitnet.checkpoint import digest_path, load_checkpoint, save_checkpoint
from digitnet.errors import UserFacingError
from digitnet.model import build_model, load_model, save_model
from digitnet.storage import SaveFailed

# What torch.save raised here when the disk filled while it wrote (torch 2.13, the C++ stream writer).
TORCH_DISK_FULL = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")
UNCHANGED = "the previous file, if any, is unchanged"


def torch_save_that_fails(error: BaseException):
    """A torch.save that writes the first bytes of the file, as the real one does, then raises `error`."""
    real = torch.save

    def save(obj, path, *args, **kwargs):
        real(obj, path, *args, **kwargs)
        Path(path).write_bytes(Path(path).read_bytes()[:100])
        raise error

    return save


@pytest.fixture
def saved_model(tmp_path, spec_for, tiny_train_config, preprocessor):
    spec = spec_for(tiny_train_config)
    path = tmp_path / "model" / "model.pt"
    save_model(build_model(spec, seed=0), spec, preprocessor, path)
    return path, spec, preprocessor


def test_a_full_disk_while_saving_the_model_is_one_line_naming_the_file_and_enospc(saved_model, monkeypatch):
    path, spec, preprocessor = saved_model
    before = path.read_bytes()
    monkeypatch.setattr(torch, "save", torch_save_that_fails(TORCH_DISK_FULL))
    monkeypatch.setattr(storage, "free_bytes", lambda directory: 0)
    with pytest.raises(SaveFailed) as caught:
        save_model(build_model(spec, seed=1), spec, preprocessor, path)
    assert str(caught.value) == (
        f"cannot write {path}: No space left on device (ENOSPC): free some space and run again; {UNCHANGED}"
    )
    assert isinstance(caught.value, UserFacingError)  # the CLI prints it as one line and exits 1
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]
    load_model(path)


def test_a_failed_save_with_space_left_names_torchs_error_instead(saved_model, monkeypatch):
    path, spec, preprocessor = saved_model
    monkeypatch.setattr(torch, "save", torch_save_that_fails(TORCH_DISK_FULL))
    monkeypatch.setattr(storage, "free_bytes", lambda directory: 10 << 30)
    with pytest.raises(SaveFailed) as caught:
        save_model(build_model(spec, seed=1), spec, preprocessor, path)
    assert str(caught.value) == (
        f"cannot write {path}: torch.save failed (RuntimeError: [enforce fail at inline_container.cc:672] . "
        f"unexpected pos 704 vs 598); {UNCHANGED}"
    )


def test_a_full_disk_while_checkpointing_keeps_the_last_checkpoint_and_its_digest(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "train.pt"
    state = {"fingerprint": "f", "history": [], "model": {"w": torch.ones(3)}, "optimizer": {}}
    save_checkpoint(path, state)
    before = {p.name: p.read_bytes() for p in path.parent.iterdir()}
    monkeypatch.setattr(torch, "save", torch_save_that_fails(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(SaveFailed) as caught:
        save_checkpoint(path, {**state, "history": [1]})
    assert str(caught.value) == (
        f"cannot write {path}: No space left on device (ENOSPC): free some space and run again; {UNCHANGED}"
    )
    assert {p.name: p.read_bytes() for p in path.parent.iterdir()} == before  # no partial file left
    assert digest_path(path).is_file() and load_checkpoint(path, "f")["history"] == []


def test_a_full_disk_while_writing_the_digest_leaves_no_partial_digest(tmp_path, monkeypatch):
    path = tmp_path / "train.pt"
    monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "x")))
    with pytest.raises(SaveFailed, match=r"^cannot write .*train.pt: No space left on device \(ENOSPC\)"):
        save_checkpoint(path, {"fingerprint": "f", "history": [], "model": {}, "optimizer": {}})
    assert sorted(p.name for p in tmp_path.iterdir()) == []
