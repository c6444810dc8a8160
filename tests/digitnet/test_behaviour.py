"""Facts of the digits: REPLACE THIS FILE with your own when you swap in your data and model (the other test files
read the data contract and the data, and pass unchanged after a swap).

The data and its preprocessing (8x8 images scaled by the contract's largest pixel value), the digit slices, and
behavioural tests of the trained reference model: minimum functionality (overall, per class, per slice), invariance
to pixel noise, and a directional expectation (ink of another digit moves the prediction towards it). Last, the same
package on a regression target made from the digits (each image's mean ink): split, train, evaluate and predict run
unchanged from a contract whose `target.task` is regression."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from digitnet.cli import main
from digitnet.config import TrainConfig
from digitnet.evaluate import SLICES, evaluate, faint_ink, off_centre
from digitnet.model import SavedModel
from digitnet.predict import class_probabilities
from digitnet.preprocess import fit_preprocessor, to_tensors
from digitnet.train import train
from mlci.contract import Target, dump_contract

MIN_ACCURACY = 0.93
MIN_CLASS_RECALL = 0.80
MIN_SLICE_ACCURACY = 0.85
MIN_SLICE_SUPPORT = 10


def test_the_digits_are_1797_rows_of_64_pixels_in_the_contracts_order(raw_data, contract):
    assert list(raw_data.columns) == contract.columns
    assert len(raw_data) == 1797
    assert len(contract.feature_names) == 64 and contract.target.classes == tuple(range(10))


def test_preprocessor_makes_8x8_images_scaled_by_the_largest_pixel_value(preprocessor):
    assert preprocessor.classes == tuple(range(10))
    assert preprocessor.image_side == 8
    assert preprocessor.scale == 16.0  # the contract's largest pixel value


def test_a_faint_training_split_does_not_change_the_scale(data_split, contract):
    faint = data_split.train.copy()
    faint[contract.feature_names] = faint[contract.feature_names] // 2
    assert fit_preprocessor(faint, contract) == fit_preprocessor(data_split.train, contract)


def test_tensors_are_scaled_images_and_class_indexes(raw_data, preprocessor):
    images, labels = to_tensors(raw_data.head(5), preprocessor, "label")
    assert images.shape == (5, 1, 8, 8) and images.dtype == torch.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert labels.dtype == torch.int64
    assert labels.tolist() == raw_data["label"].head(5).tolist()


def _frame_with_ink(columns_with_ink: list[int], value: int, features: list[str]) -> pd.DataFrame:
    pixels = np.zeros((1, 64), dtype=np.int64)
    for row in range(8):
        for col in columns_with_ink:
            pixels[0, row * 8 + col] = value
    return pd.DataFrame(pixels, columns=features)


def test_slices_select_faint_and_off_centre_digits(contract):
    centred_bold = _frame_with_ink([2, 3, 4, 5], 16, contract.feature_names)
    left_faint = _frame_with_ink([0, 1], 2, contract.feature_names)
    assert not faint_ink(centred_bold)[0] and faint_ink(left_faint)[0]
    assert not off_centre(centred_bold)[0] and off_centre(left_faint)[0]


@pytest.fixture(scope="module")
def trained(data_split, preprocessor, spec_for, contract) -> SavedModel:
    config = TrainConfig(epochs=12, channels=32, depth=2, device="cpu")
    target = contract.target.name
    train_set, val_set = (to_tensors(frame, preprocessor, target) for frame in (data_split.train, data_split.val))
    result = train(config, train_set, val_set, spec=spec_for(config))
    return SavedModel(result.model, result.spec, preprocessor)


@pytest.fixture(scope="module")
def test_evaluation(trained, data_split, contract):
    return evaluate(trained, data_split.test, contract)


def test_model_reaches_the_minimum_accuracy(test_evaluation):
    assert test_evaluation.metrics["accuracy"] >= MIN_ACCURACY


def test_every_class_reaches_the_minimum_recall(test_evaluation):
    below = {
        label: row["recall"]
        for label, row in test_evaluation.metrics["per_class"].items()
        if row["recall"] < MIN_CLASS_RECALL
    }
    assert below == {}


def test_every_slice_is_populated_and_reaches_the_minimum_accuracy(test_evaluation):
    assert set(test_evaluation.metrics["slices"]) == set(SLICES)
    weak = {
        name: row
        for name, row in test_evaluation.metrics["slices"].items()
        if row["support"] < MIN_SLICE_SUPPORT or row["accuracy"] < MIN_SLICE_ACCURACY
    }
    assert weak == {}


def test_predictions_are_invariant_to_small_pixel_noise(trained, data_split):
    images = trained.preprocessor.inputs(data_split.test)
    generator = torch.Generator().manual_seed(0)
    noisy = (images + 0.03 * torch.randn(images.shape, generator=generator)).clamp(0, 1)
    clean = class_probabilities(trained.model, images, batch_size=256).argmax(dim=1)
    with_noise = class_probabilities(trained.model, noisy, batch_size=256).argmax(dim=1)
    assert (clean == with_noise).float().mean() >= 0.97


def test_blending_in_another_digit_raises_its_probability(trained, data_split):
    """Directional: a 1 overlaid with the average 7 of the training split looks more like a 7 than before."""
    preprocessor = trained.preprocessor
    ones = preprocessor.inputs(data_split.test[data_split.test["label"] == 1])
    mean_seven = preprocessor.inputs(data_split.train[data_split.train["label"] == 7]).mean(dim=0)
    blended = (0.5 * ones + 0.5 * mean_seven).clamp(0, 1)
    seven = preprocessor.classes.index(7)
    before = class_probabilities(trained.model, ones, batch_size=256)[:, seven]
    after = class_probabilities(trained.model, blended, batch_size=256)[:, seven]
    assert after.mean() > before.mean() + 0.2
    assert (after > before).float().mean() >= 0.9


# ------------------------------------------------------------------- the same package on a regression target
REGRESSION_PARAMS = {
    "split": {"seed": 1},
    "train": {"epochs": 8, "channels": 8, "learning_rate": 0.01, "dropout": 0.0, "device": "cpu"},
}


@pytest.fixture(scope="module")
def regression_project(tmp_path_factory, raw_data, contract):
    """A scratch project on data/ink.csv, run through split, train, evaluate and predict from inside it."""
    root = tmp_path_factory.mktemp("regression")
    frame = raw_data.drop(columns=[contract.target.name])
    frame["ink"] = frame[contract.feature_names].to_numpy(dtype=np.float64).mean(axis=1).round(4)
    (root / "data").mkdir()
    frame.to_csv(root / "data/ink.csv", index=False)
    ink = replace(contract, path="data/ink.csv", target=Target(name="ink", task="regression", min=0.0, max=16.0))
    dump_contract(ink, root / "data.schema.yaml")
    (root / "params.yaml").write_text(yaml.safe_dump(REGRESSION_PARAMS))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        for command in (["split"], ["train"], ["evaluate"], ["predict", "--data", "data/ink.csv", "--out", "out.csv"]):
            assert main(command) == 0, command
    return root


def test_the_metrics_are_a_regressions_and_beat_predicting_the_mean(regression_project):
    metrics = json.loads((regression_project / "dvclive/evaluate/metrics.json").read_text())
    assert list(metrics) == ["mae", "rmse", "r2", "slices"]
    test = pd.read_csv(regression_project / "artifacts/split/test.csv")
    baseline = float((test["ink"] - test["ink"].mean()).abs().mean())  # the MAE of always predicting the mean
    assert metrics["mae"] < 0.5 * baseline
    assert metrics["r2"] > 0.5
    assert set(metrics["slices"]) == {"faint_ink", "off_centre"}
    assert all(set(row) == {"mae", "support"} for row in metrics["slices"].values())


def test_the_predictions_are_values_with_no_class_probabilities(regression_project):
    predictions = pd.read_csv(regression_project / "reports/predictions.csv")
    assert list(predictions.columns) == ["id", "target", "prediction"]
    assert predictions["prediction"].dtype == np.float64
    mae = float((predictions["prediction"] - predictions["target"]).abs().mean())
    metrics = json.loads((regression_project / "dvclive/evaluate/metrics.json").read_text())
    assert mae == pytest.approx(metrics["mae"], abs=1e-5)
    assert list(pd.read_csv(regression_project / "out.csv").columns) == ["prediction"]


def test_the_training_curves_log_loss_and_mae(regression_project):
    plots = regression_project / "dvclive/train/plots/metrics"
    assert sorted(path.relative_to(plots).as_posix() for path in plots.rglob("*.tsv")) == [
        "train/loss.tsv",
        "train/mae.tsv",
        "val/loss.tsv",
        "val/mae.tsv",
    ]
    final = json.loads((regression_project / "dvclive/train/metrics.json").read_text())
    assert set(final["val"]) == {"loss", "mae"}
