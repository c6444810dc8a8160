"""The training checkpoint: weights-only, checked against its sha256 digest, and an unusable one is moved aside with
one warning while training starts fresh."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import io
import logging
from pathlib import Path

import pytest
import torch

import digitnet.checkpoint as checkpoint
from digitnet.checkpoint import load_checkpoint, remove_checkpoint, save_checkpoint
from digitnet.errors import TrainingInterrupted
from digitnet.preprocess import fit_preprocessor, to_tensors
from digitnet.train import train


@pytest.fixture
def two_epoch_config(tiny_train_config):
    return dataclasses.replace(tiny_train_config, epochs=2)


# What is checked here is the checkpoint, not the model: a few batches of each split train quickly enough.
ROWS = 256


@pytest.fixture
def sets(data_split, contract):
    preprocessor = fit_preprocessor(data_split.train, contract)
    target = contract.target.name
    splits = (data_split.train.head(ROWS), data_split.val.head(ROWS))
    return tuple(to_tensors(frame, preprocessor, target) for frame in splits)


@pytest.fixture
def spec(two_epoch_config, spec_for):
    return spec_for(two_epoch_config)


@pytest.fixture
def saved_checkpoint(sets, two_epoch_config, spec, tmp_path) -> Path:
    """A genuine checkpoint after epoch 1 of 2, with its digest."""
    path = tmp_path / "checkpoints" / "train.pt"
    with pytest.raises(TrainingInterrupted):
        train(two_epoch_config, *sets, path, should_stop=path.exists, spec=spec)  # a stop once epoch 1 is saved
    return path


def _write_with_digest(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.with_name(path.name + ".sha256").write_text(f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")


def _saved_bytes(state) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def test_checkpoint_is_weights_only_loadable_and_its_digest_is_in_sha256sum_format(saved_checkpoint):
    state = torch.load(saved_checkpoint, map_location="cpu", weights_only=True)
    assert sorted(state) == ["fingerprint", "history", "model", "optimizer"]
    digest = saved_checkpoint.with_name("train.pt.sha256").read_text()
    assert digest == f"{hashlib.sha256(saved_checkpoint.read_bytes()).hexdigest()}  train.pt\n"
    assert sorted(p.name for p in saved_checkpoint.parent.iterdir()) == ["train.pt", "train.pt.sha256"]


def test_a_verified_checkpoint_resumes(saved_checkpoint, sets, two_epoch_config, spec, caplog):
    with caplog.at_level(logging.WARNING):
        assert train(two_epoch_config, *sets, saved_checkpoint, spec=spec).resumed_from_epoch == 1
    assert caplog.records == []


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _garbage_with_its_digest(path: Path) -> None:
    _write_with_digest(path, b"not a checkpoint\n")


def _drop_digest(path: Path) -> None:
    path.with_name("train.pt.sha256").unlink()


def _scramble_digest(path: Path) -> None:
    path.with_name("train.pt.sha256").write_text("deadbeef  train.pt\n")


def _unpicklable_with_its_digest(path: Path) -> None:
    _write_with_digest(path, _saved_bytes({"fingerprint": "x", "model": datetime.date(2020, 1, 1)}))


def _not_a_training_checkpoint(path: Path) -> None:
    _write_with_digest(path, _saved_bytes([1, 2, 3]))


DIGEST = "{dir}/train.pt.sha256"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_truncate, f"its sha256 does not match {DIGEST} (cut short or changed after saving)"),
        (_flip_a_byte, f"its sha256 does not match {DIGEST} (cut short or changed after saving)"),
        (_empty, "the file is empty"),
        (_garbage_with_its_digest, "a weights-only load refused it (UnpicklingError: Unsupported operand 110)"),
        (_drop_digest, f"its digest {DIGEST} is missing"),
        (_scramble_digest, f"its digest {DIGEST} is not a sha256 line"),
        (
            _unpicklable_with_its_digest,
            "a weights-only load refused it (UnpicklingError: Unsupported global: GLOBAL datetime.date)",
        ),
        (
            _not_a_training_checkpoint,
            "it is not a training checkpoint (expected the keys fingerprint, history, model, optimizer)",
        ),
    ],
    ids=["truncated", "flipped-byte", "empty", "garbage", "no-digest", "bad-digest", "unpicklable", "not-a-checkpoint"],
)
def test_an_unusable_checkpoint_is_moved_aside_with_one_warning_and_training_starts_fresh(
    saved_checkpoint, sets, two_epoch_config, spec, caplog, damage, reason
):
    damage(saved_checkpoint)
    damaged = saved_checkpoint.read_bytes()
    folder = saved_checkpoint.parent
    with caplog.at_level(logging.WARNING):
        result = train(two_epoch_config, *sets, saved_checkpoint, spec=spec)
    assert result.resumed_from_epoch is None and len(result.history) == 2
    assert [record.getMessage() for record in caplog.records] == [
        f"checkpoint {saved_checkpoint} is unusable: {reason.format(dir=folder)}; "
        f"moved it to {folder / 'train.pt.corrupt'}, training starts fresh"
    ]
    assert (folder / "train.pt.corrupt").read_bytes() == damaged
    # The fresh run wrote a new, verified checkpoint in its place.
    assert load_checkpoint(saved_checkpoint, "other run") is None
    assert [record.levelno for record in caplog.records] == [logging.WARNING]


def test_other_ranks_neither_warn_nor_move_an_unusable_checkpoint(saved_checkpoint, caplog):
    _flip_a_byte(saved_checkpoint)
    with caplog.at_level(logging.WARNING):
        assert load_checkpoint(saved_checkpoint, "any", is_main=False) is None
    assert caplog.records == []
    assert saved_checkpoint.is_file() and not saved_checkpoint.with_name("train.pt.corrupt").exists()


def test_save_replaces_file_and_digest_and_remove_deletes_both(tmp_path):
    path = tmp_path / "train.pt"
    state = {"fingerprint": "f", "history": [], "model": {"w": torch.ones(2)}, "optimizer": {}}
    save_checkpoint(path, state)
    save_checkpoint(path, {**state, "history": [{"epoch": 1}]})
    assert load_checkpoint(path, "f")["history"] == [{"epoch": 1}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.pt", "train.pt.sha256"]
    remove_checkpoint(path)
    assert list(tmp_path.iterdir()) == []


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


@pytest.mark.parametrize(("renames_before_the_kill", "resumes_epoch"), [(0, 1), (1, 1), (2, 2)])
def test_a_save_killed_between_its_renames_leaves_a_checkpoint_that_still_verifies(
    tmp_path, monkeypatch, caplog, renames_before_the_kill, resumes_epoch
):
    """Renames: the digest listing new and old, the checkpoint, the digest listing only the new one."""
    path = tmp_path / "train.pt"
    state = {"fingerprint": "f", "model": {"w": torch.ones(2)}, "optimizer": {}}
    save_checkpoint(path, {**state, "history": [{"epoch": 1}]})
    real_move = checkpoint._move_into_place
    renames = []

    def move_then_maybe_die(partial: Path, target: Path) -> None:
        if len(renames) == renames_before_the_kill:
            raise Killed
        renames.append(target.name)
        real_move(partial, target)

    monkeypatch.setattr(checkpoint, "_move_into_place", move_then_maybe_die)
    with pytest.raises(Killed):
        save_checkpoint(path, {**state, "history": [{"epoch": 1}, {"epoch": 2}]})
    monkeypatch.undo()
    with caplog.at_level(logging.WARNING):
        assert len(load_checkpoint(path, "f")["history"]) == resumes_epoch
    assert caplog.records == []
