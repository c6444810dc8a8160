"""Behavioural tests of the trained reference model: per-class and per-slice minimums, noise invariance."""

import pytest
import torch

from digitnet.config import TrainConfig
from digitnet.data import to_tensors
from digitnet.evaluate import SLICES, evaluate, predict
from digitnet.train import train

MIN_ACCURACY = 0.93
MIN_CLASS_RECALL = 0.80
MIN_SLICE_ACCURACY = 0.85


@pytest.fixture(scope="module")
def trained(digits_split):
    config = TrainConfig(epochs=12, channels=32, depth=2, device="cpu")
    return train(config, to_tensors(digits_split.train), to_tensors(digits_split.val)).model


@pytest.fixture(scope="module")
def test_metrics(trained, digits_split):
    return evaluate(trained, digits_split.test)


def test_model_reaches_the_minimum_accuracy(test_metrics):
    assert test_metrics.accuracy >= MIN_ACCURACY


@pytest.mark.parametrize("label", [str(label) for label in range(10)])
def test_every_class_reaches_the_minimum_recall(test_metrics, label):
    assert test_metrics.per_class[label]["recall"] >= MIN_CLASS_RECALL


@pytest.mark.parametrize("name", sorted(SLICES))
def test_every_slice_is_populated_and_reaches_the_minimum_accuracy(test_metrics, name):
    assert test_metrics.slices[name]["support"] >= 10
    assert test_metrics.slices[name]["accuracy"] >= MIN_SLICE_ACCURACY


def test_predictions_are_invariant_to_small_pixel_noise(trained, digits_split):
    images, _ = to_tensors(digits_split.test)
    generator = torch.Generator().manual_seed(0)
    noisy = (images + 0.03 * torch.randn(images.shape, generator=generator)).clamp(0, 1)
    clean_predictions = predict(trained, images, batch_size=256)
    noisy_predictions = predict(trained, noisy, batch_size=256)
    assert (clean_predictions == noisy_predictions).float().mean() >= 0.97
