"""Training behaviour: it learns, is reproducible, round-trips, stops on NaN, and resumes a checkpoint exactly."""

from dataclasses import replace

import pytest
import torch

from digitnet.data import to_tensors
from digitnet.model import ModelSpec, build_model, load_model, save_model
from digitnet.train import (
    TrainingDivergedError,
    TrainingInterrupted,
    autocast_dtype,
    select_device,
    train,
)


def test_loss_falls_when_overfitting_one_batch(digits):
    images, labels = to_tensors(digits.head(32))
    model = build_model(ModelSpec(channels=16, depth=2, dropout=0.0), seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 < losses[0]


def test_same_seed_gives_the_same_history_and_weights(digits_split, tiny_train_config):
    train_set, val_set = to_tensors(digits_split.train), to_tensors(digits_split.val)
    first = train(tiny_train_config, train_set, val_set)
    second = train(tiny_train_config, train_set, val_set)
    other = train(replace(tiny_train_config, seed=7), train_set, val_set)
    assert first.history == second.history
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)
    assert first.history != other.history


def test_resumed_training_matches_an_uninterrupted_run(digits_split, tiny_train_config, tmp_path):
    train_set, val_set = to_tensors(digits_split.train), to_tensors(digits_split.val)
    checkpoint = tmp_path / "train.pt"
    with pytest.raises(TrainingInterrupted) as stop:
        train(tiny_train_config, train_set, val_set, checkpoint, should_stop=lambda: True)
    assert stop.value.epochs_done == 1 and checkpoint.is_file()
    resumed = train(tiny_train_config, train_set, val_set, checkpoint)
    uninterrupted = train(tiny_train_config, train_set, val_set)
    assert resumed.resumed_from_epoch == 1
    assert resumed.history == uninterrupted.history


def test_a_checkpoint_of_other_params_is_ignored(digits_split, tiny_train_config, tmp_path):
    train_set, val_set = to_tensors(digits_split.train), to_tensors(digits_split.val)
    checkpoint = tmp_path / "train.pt"
    with pytest.raises(TrainingInterrupted):
        train(tiny_train_config, train_set, val_set, checkpoint, should_stop=lambda: True)
    changed = replace(tiny_train_config, learning_rate=0.01)
    assert train(changed, train_set, val_set, checkpoint).resumed_from_epoch is None


def test_nan_loss_stops_training_with_a_clear_error(digits_split, tiny_train_config):
    images, labels = to_tensors(digits_split.train)
    images[0, 0, 0, 0] = float("nan")
    with pytest.raises(TrainingDivergedError) as error:
        train(tiny_train_config, (images, labels), to_tensors(digits_split.val))
    assert str(error.value) == (
        "training diverged: the loss is nan in epoch 1; check the data for NaN/inf values or "
        "lower train.learning_rate (now 0.003) in params.yaml"
    )


def test_save_and_load_round_trip_keeps_predictions(digits_split, tiny_train_config, tmp_path):
    result = train(
        replace(tiny_train_config, epochs=1),
        *(to_tensors(frame) for frame in (digits_split.train, digits_split.val)),
    )
    path = tmp_path / "model" / "model.pt"
    save_model(result.model, result.spec, path)
    loaded, spec = load_model(path)
    images, _ = to_tensors(digits_split.test)
    assert spec == result.spec
    assert torch.equal(loaded(images), result.model(images))
    assert not path.with_suffix(".pt.partial").exists()


def test_cpu_is_chosen_when_cuda_is_absent_and_cuda_request_fails_clearly():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert select_device("auto").type == "cpu"
    assert autocast_dtype(torch.device("cpu")) is None
    with pytest.raises(Exception) as error:
        select_device("cuda")
    assert str(error.value) == "params.yaml: train.device: 'cuda' but no CUDA device is available"


@pytest.mark.gpu
def test_training_on_cuda_uses_mixed_precision(digits_split, tiny_train_config):
    result = train(
        replace(tiny_train_config, device="cuda"),
        to_tensors(digits_split.train),
        to_tensors(digits_split.val),
    )
    assert result.device == "cuda"
    assert result.precision in ("bfloat16-autocast", "float16-autocast")
    assert result.history[-1].val_accuracy > 0.5
