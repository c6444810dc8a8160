"""The reference data, its split and its preprocessing: facts of the digits data and its data contract."""

import numpy as np
import pandas as pd
import pytest
import torch

from digitnet.config import SplitConfig
from digitnet.data import split_frame
from digitnet.preprocess import fit_preprocessor, to_tensors


def test_real_data_has_the_columns_the_contract_names(digits, contract):
    assert list(digits.columns) == contract.columns
    assert len(digits) == 1797
    assert digits[contract.id].is_unique


def test_split_is_disjoint_complete_and_stratified(digits, contract):
    split = split_frame(digits, SplitConfig(seed=1, val_fraction=0.2, test_fraction=0.1), contract)
    ids = [set(part["id"]) for part in (split.train, split.val, split.test)]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert set().union(*ids) == set(digits["id"])
    assert len(split.test) == pytest.approx(0.1 * len(digits), abs=10)
    overall = digits["label"].value_counts(normalize=True).sort_index()
    in_test = split.test["label"].value_counts(normalize=True).sort_index()
    assert np.abs(overall - in_test).max() < 0.01


def test_split_is_the_same_for_the_same_seed_whatever_the_row_order(digits, contract):
    first = split_frame(digits, SplitConfig(seed=7), contract)
    shuffled = split_frame(digits.sample(frac=1.0, random_state=3), SplitConfig(seed=7), contract)
    other = split_frame(digits, SplitConfig(seed=8), contract)
    pd.testing.assert_frame_equal(first.test, shuffled.test)
    assert set(first.test["id"]) != set(other.test["id"])


def test_preprocessor_takes_features_and_classes_from_the_contract(digits_split, contract):
    preprocessor = fit_preprocessor(digits_split.train, contract)
    assert preprocessor.features == tuple(contract.feature_names)
    assert preprocessor.classes == tuple(range(10))
    assert preprocessor.image_side == 8
    assert preprocessor.scale == 16.0  # the contract's largest pixel value


def test_a_faint_training_split_does_not_change_the_scale(digits_split, contract):
    faint = digits_split.train.copy()
    faint[contract.feature_names] = faint[contract.feature_names] // 2
    assert fit_preprocessor(faint, contract) == fit_preprocessor(digits_split.train, contract)


def test_tensors_are_scaled_images_and_class_indexes(digits, preprocessor):
    images, labels = to_tensors(digits.head(5), preprocessor, "label")
    assert images.shape == (5, 1, 8, 8) and images.dtype == torch.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert labels.dtype == torch.int64
    assert labels.tolist() == digits["label"].head(5).tolist()
