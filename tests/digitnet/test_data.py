"""The data the contract names, its split and its preprocessing, checked against the contract (not against facts of
one data set, so these pass unchanged after a swap)."""

import numpy as np
import pandas as pd
import pytest
import torch

from digitnet.config import SplitConfig
from digitnet.data import split_frame
from digitnet.preprocess import Preprocessor, fit_preprocessor, to_tensors


def test_real_data_has_the_columns_the_contract_names(raw_data, contract):
    assert set(contract.columns) <= set(raw_data.columns)
    assert contract.min_rows is None or len(raw_data) >= contract.min_rows
    if contract.id:
        assert raw_data[contract.id].is_unique


def test_split_is_disjoint_complete_and_stratified(raw_data, contract):
    split = split_frame(raw_data, SplitConfig(seed=1, val_fraction=0.2, test_fraction=0.1), contract)
    ids = [set(part[contract.id]) for part in (split.train, split.val, split.test)]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert set().union(*ids) == set(raw_data[contract.id])
    strata = len(contract.target.classes) if contract.target.is_classification else 1
    assert len(split.test) == pytest.approx(0.1 * len(raw_data), abs=strata)  # one rounding per class
    if not contract.target.is_classification:
        return  # a regression target is split at random: no class shares to compare
    target = contract.target.name
    overall = raw_data[target].value_counts(normalize=True).sort_index()
    in_test = split.test[target].value_counts(normalize=True).sort_index()
    assert np.abs(overall - in_test).max() < max(0.01, 1 / len(split.test))  # off by under one row per class


def test_split_is_the_same_for_the_same_seed_whatever_the_row_order(raw_data, contract):
    first = split_frame(raw_data, SplitConfig(seed=7), contract)
    shuffled = split_frame(raw_data.sample(frac=1.0, random_state=3), SplitConfig(seed=7), contract)
    other = split_frame(raw_data, SplitConfig(seed=8), contract)
    pd.testing.assert_frame_equal(first.test, shuffled.test)
    assert set(first.test[contract.id]) != set(other.test[contract.id])


def test_preprocessor_takes_features_and_classes_from_the_contract(data_split, contract):
    preprocessor = fit_preprocessor(data_split.train, contract)
    assert preprocessor.features == tuple(contract.feature_names)
    assert preprocessor.classes == tuple(contract.target.classes or ())  # none for a regression


def test_preprocessor_round_trips_through_its_saved_form(preprocessor):
    assert Preprocessor.from_dict(preprocessor.to_dict()) == preprocessor


def test_tensors_are_finite_float_inputs_and_class_indexes(raw_data, preprocessor, contract):
    rows = raw_data.head(5)
    inputs, labels = to_tensors(rows, preprocessor, contract.target.name)
    assert len(inputs) == 5 and inputs.dtype == torch.float32
    assert torch.isfinite(inputs).all()
    if not contract.target.is_classification:  # standardised values
        assert labels.dtype == torch.float32 and torch.isfinite(labels).all()
        return
    assert labels.dtype == torch.int64
    assert [preprocessor.classes[index] for index in labels.tolist()] == rows[contract.target.name].tolist()
