"""Training behaviour: it learns, is reproducible, round-trips with its preprocessing, stops on NaN, resumes exactly."""

import math
from dataclasses import replace

import pytest
import torch

from digitnet.config import TrainConfig
from digitnet.errors import UserFacingError
from digitnet.model import build_model, load_model, save_model
from digitnet.predict import predict
from digitnet.train import (
    TrainingDivergedError,
    TrainingInterrupted,
    autocast_dtype,
    cpu_threads,
    loss_and_score,
    select_device,
    train,
)


def test_loss_falls_when_overfitting_one_batch(split_tensors, spec_for):
    inputs, labels = (tensor[:32] for tensor in split_tensors.train)
    model = build_model(spec_for(TrainConfig(channels=16, depth=2, dropout=0.0)), seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    regression = labels.dtype.is_floating_point
    for _ in range(60):
        loss = loss_and_score(model(inputs), labels, regression)[0] / len(labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 < losses[0]


def test_same_seed_gives_the_same_history_and_weights(split_tensors, tiny_train_config, spec_for):
    spec = spec_for(tiny_train_config)
    first = train(tiny_train_config, split_tensors.train, split_tensors.val, spec=spec)
    second = train(tiny_train_config, split_tensors.train, split_tensors.val, spec=spec)
    other = train(replace(tiny_train_config, seed=7), split_tensors.train, split_tensors.val, spec=spec)
    assert first.history == second.history
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)
    assert first.history != other.history


def test_training_runs_on_its_thread_count_and_gives_the_process_its_own_back(
    split_tensors, tiny_train_config, spec_for
):
    seen: list[int] = []  # should_stop is asked before every batch: it sees the count training runs on
    config = replace(tiny_train_config, epochs=1, threads=1)
    with cpu_threads(2):
        record_threads = lambda: seen.append(torch.get_num_threads()) or False  # noqa: E731 (a one-line callback)
        train(config, split_tensors.train, split_tensors.val, should_stop=record_threads, spec=spec_for(config))
        assert torch.get_num_threads() == 2
    assert set(seen) == {1}


class StopRequest:
    """A `should_stop` that turns True at batch `batch` of epoch `epoch` (train asks once before each batch and once
    at each epoch's end), counting how often it was asked."""

    def __init__(self, split_tensors, config: TrainConfig, epoch: int, batch: int = 2) -> None:
        self.per_epoch = math.ceil(len(split_tensors.train[1]) / config.batch_size) + 1
        self.at, self.calls = self.per_epoch * (epoch - 1) + batch, 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.calls >= self.at


def _stopped(split_tensors, config: TrainConfig, spec, checkpoint, should_stop) -> TrainingInterrupted:
    """Train with a checkpoint until `should_stop` asks to stop; the interruption train raised."""
    with pytest.raises(TrainingInterrupted) as stop:
        train(config, split_tensors.train, split_tensors.val, checkpoint, should_stop=should_stop, spec=spec)
    return stop.value


def test_a_stop_request_ends_training_at_the_next_batch_keeping_the_last_epochs_checkpoint(
    split_tensors, tiny_train_config, spec_for, tmp_path
):
    checkpoint, spec = tmp_path / "train.pt", spec_for(tiny_train_config)
    stop_request = StopRequest(split_tensors, tiny_train_config, epoch=2)
    stop = _stopped(split_tensors, tiny_train_config, spec, checkpoint, stop_request)
    assert stop_request.calls == stop_request.per_epoch + 2  # asked no more: epoch 2 ended at its second batch
    assert stop.epochs_done == 1 and checkpoint.is_file()
    assert str(stop) == "stopped after epoch 1; checkpoint saved, run again to resume"


def test_a_stop_request_in_the_first_epoch_says_there_is_no_checkpoint_yet(
    split_tensors, tiny_train_config, spec_for, tmp_path
):
    checkpoint, spec = tmp_path / "train.pt", spec_for(tiny_train_config)
    stop_request = StopRequest(split_tensors, tiny_train_config, epoch=1)
    stop = _stopped(split_tensors, tiny_train_config, spec, checkpoint, stop_request)
    assert str(stop) == "stopped during epoch 1, before its checkpoint; run again to start over"
    assert stop.epochs_done == 0 and not checkpoint.exists()


def test_resumed_training_matches_an_uninterrupted_run(split_tensors, tiny_train_config, spec_for, tmp_path):
    checkpoint, spec = tmp_path / "train.pt", spec_for(tiny_train_config)
    stop_request = StopRequest(split_tensors, tiny_train_config, epoch=2)
    stop = _stopped(split_tensors, tiny_train_config, spec, checkpoint, stop_request)
    assert stop.epochs_done == 1 and checkpoint.is_file()
    resumed = train(tiny_train_config, split_tensors.train, split_tensors.val, checkpoint, spec=spec)
    uninterrupted = train(tiny_train_config, split_tensors.train, split_tensors.val, spec=spec)
    assert resumed.resumed_from_epoch == 1
    assert resumed.history == uninterrupted.history


def test_a_checkpoint_of_other_params_is_ignored(split_tensors, tiny_train_config, spec_for, tmp_path):
    checkpoint, spec = tmp_path / "train.pt", spec_for(tiny_train_config)
    _stopped(split_tensors, tiny_train_config, spec, checkpoint, StopRequest(split_tensors, tiny_train_config, epoch=2))
    changed = replace(tiny_train_config, learning_rate=0.01)
    assert train(changed, split_tensors.train, split_tensors.val, checkpoint, spec=spec).resumed_from_epoch is None


def test_nan_loss_stops_training_with_a_clear_error(split_tensors, tiny_train_config, spec_for):
    inputs, labels = split_tensors.train
    inputs[(0,) * inputs.dim()] = float("nan")  # the first input value of the first row
    with pytest.raises(TrainingDivergedError) as error:
        train(tiny_train_config, (inputs, labels), split_tensors.val, spec=spec_for(tiny_train_config))
    assert str(error.value) == (
        "training diverged: the loss is nan in epoch 1; check the data for NaN/inf values or "
        "lower train.learning_rate (now 0.003) in params.yaml"
    )


def test_the_spec_passed_to_train_sizes_the_network(split_tensors, tiny_train_config, spec_for, preprocessor):
    spec = spec_for(tiny_train_config)
    result = train(replace(tiny_train_config, epochs=1), split_tensors.train, split_tensors.val, spec=spec)
    assert result.spec == spec
    assert result.model(split_tensors.test[0][:4]).shape == (4, len(preprocessor.classes) or 1)


def test_save_and_load_round_trip_keeps_preprocessing_and_predictions(
    split_tensors, data_split, preprocessor, tiny_train_config, spec_for, tmp_path
):
    config = replace(tiny_train_config, epochs=1)
    result = train(config, split_tensors.train, split_tensors.val, spec=spec_for(config))
    path = tmp_path / "model" / "model.pt"
    save_model(result.model, result.spec, preprocessor, path)
    saved = load_model(path)
    assert saved.spec == result.spec
    assert saved.preprocessor == preprocessor
    assert not saved.model.training
    inputs, _ = split_tensors.test
    result.model.eval()
    assert torch.equal(saved.model(inputs), result.model(inputs))
    predicted = predict(saved, data_split.test)["prediction"]
    if preprocessor.classes:
        expected = [preprocessor.classes[index] for index in result.model(inputs).argmax(dim=1).tolist()]
        assert predicted.tolist() == expected
    else:  # a regression: the value in the target's units, rounded as the predictions file has it
        values = preprocessor.values(result.model(inputs).detach().numpy())
        assert predicted.tolist() == values.round(6).tolist()
    assert not path.with_suffix(".pt.partial").exists()


def test_a_file_that_is_not_a_saved_model_fails_with_what_to_do(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"not a model")
    with pytest.raises(UserFacingError) as error:
        load_model(path)
    assert str(error.value) == (
        f"{path} is not a model saved by this project (UnpicklingError): rebuild it with `dvc repro train`"
    )


def test_cpu_is_chosen_when_cuda_is_absent_and_cuda_request_fails_clearly():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert select_device("auto").type == "cpu"
    assert autocast_dtype(torch.device("cpu")) is None
    with pytest.raises(UserFacingError) as error:
        select_device("cuda")
    assert str(error.value) == "params.yaml: train.device: 'cuda' but no CUDA device is available"


@pytest.mark.gpu
def test_training_on_cuda_uses_mixed_precision(split_tensors, tiny_train_config, spec_for):
    config = replace(tiny_train_config, device="cuda")
    result = train(config, split_tensors.train, split_tensors.val, spec=spec_for(config))
    assert result.device == "cuda"
    assert result.precision in ("bfloat16-autocast", "float16-autocast")
    final = result.history[-1].val_score
    assert final > 0.5 if result.score_name == "accuracy" else math.isfinite(final)  # a regression: its MAE
