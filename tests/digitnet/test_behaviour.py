"""Behavioural tests of the trained reference model: minimum functionality (overall, per class, per slice),
invariance to pixel noise, and a directional expectation (ink of another digit moves the prediction towards it)."""

import pytest
import torch

from digitnet.config import TrainConfig
from digitnet.evaluate import SLICES, evaluate
from digitnet.model import SavedModel
from digitnet.predict import class_probabilities
from digitnet.preprocess import to_tensors
from digitnet.train import train

MIN_ACCURACY = 0.93
MIN_CLASS_RECALL = 0.80
MIN_SLICE_ACCURACY = 0.85
MIN_SLICE_SUPPORT = 10


@pytest.fixture(scope="module")
def trained(digits_split, preprocessor, contract) -> SavedModel:
    config = TrainConfig(epochs=12, channels=32, depth=2, device="cpu")
    target = contract.target.name
    train_set, val_set = (to_tensors(frame, preprocessor, target) for frame in (digits_split.train, digits_split.val))
    result = train(config, train_set, val_set)
    return SavedModel(result.model, result.spec, preprocessor)


@pytest.fixture(scope="module")
def test_evaluation(trained, digits_split, contract):
    return evaluate(trained, digits_split.test, contract)


def test_model_reaches_the_minimum_accuracy(test_evaluation):
    assert test_evaluation.accuracy >= MIN_ACCURACY


def test_every_class_reaches_the_minimum_recall(test_evaluation):
    below = {
        label: row["recall"] for label, row in test_evaluation.per_class.items() if row["recall"] < MIN_CLASS_RECALL
    }
    assert below == {}


def test_every_slice_is_populated_and_reaches_the_minimum_accuracy(test_evaluation):
    assert set(test_evaluation.slices) == set(SLICES)
    weak = {
        name: row
        for name, row in test_evaluation.slices.items()
        if row["support"] < MIN_SLICE_SUPPORT or row["accuracy"] < MIN_SLICE_ACCURACY
    }
    assert weak == {}


def test_predictions_are_invariant_to_small_pixel_noise(trained, digits_split):
    images = trained.preprocessor.inputs(digits_split.test)
    generator = torch.Generator().manual_seed(0)
    noisy = (images + 0.03 * torch.randn(images.shape, generator=generator)).clamp(0, 1)
    clean = class_probabilities(trained.model, images, batch_size=256).argmax(dim=1)
    with_noise = class_probabilities(trained.model, noisy, batch_size=256).argmax(dim=1)
    assert (clean == with_noise).float().mean() >= 0.97


def test_blending_in_another_digit_raises_its_probability(trained, digits_split):
    """Directional: a 1 overlaid with the average 7 of the training split looks more like a 7 than before."""
    preprocessor = trained.preprocessor
    ones = preprocessor.inputs(digits_split.test[digits_split.test["label"] == 1])
    mean_seven = preprocessor.inputs(digits_split.train[digits_split.train["label"] == 7]).mean(dim=0)
    blended = (0.5 * ones + 0.5 * mean_seven).clamp(0, 1)
    seven = preprocessor.classes.index(7)
    before = class_probabilities(trained.model, ones, batch_size=256)[:, seven]
    after = class_probabilities(trained.model, blended, batch_size=256)[:, seven]
    assert after.mean() > before.mean() + 0.2
    assert (after > before).float().mean() >= 0.9
