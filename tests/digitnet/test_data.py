import numpy as np
import pandas as pd
import pytest
import torch

from digitnet.config import SplitConfig
from digitnet.data import COLUMNS, DataError, read_raw_csv, split_frame, to_tensors


def test_real_data_has_the_documented_schema(digits):
    assert list(digits.columns) == COLUMNS
    assert len(digits) == 1797
    assert digits["id"].is_unique


def test_missing_file_tells_the_user_to_dvc_pull(tmp_path):
    path = tmp_path / "digits.csv"
    with pytest.raises(DataError) as error:
        read_raw_csv(path)
    assert str(error.value) == f"{path} not found: run `dvc pull` to fetch the tracked data"


def test_empty_file_is_reported(tmp_path):
    path = tmp_path / "digits.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError) as error:
        read_raw_csv(path)
    assert str(error.value) == f"{path} is empty: run `dvc pull` to restore the tracked data"


def test_binary_file_is_reported_as_not_a_text_csv(tmp_path):
    path = tmp_path / "digits.csv"
    path.write_bytes(bytes(range(128, 256)) * 8)
    with pytest.raises(DataError) as error:
        read_raw_csv(path)
    assert str(error.value) == f"{path} is not a text CSV (not valid UTF-8)"


def test_garbled_csv_is_reported_with_the_parser_reason(tmp_path):
    path = tmp_path / "digits.csv"
    path.write_text('id,label\n1,2\n3,"4\n')
    with pytest.raises(DataError) as error:
        read_raw_csv(path)
    assert str(error.value).startswith(f"{path} is not a well-formed CSV: ")


def test_split_is_disjoint_complete_and_stratified(digits):
    split = split_frame(digits, SplitConfig(seed=1, val_fraction=0.2, test_fraction=0.1))
    ids = [set(part["id"]) for part in (split.train, split.val, split.test)]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert set().union(*ids) == set(digits["id"])
    assert len(split.test) == pytest.approx(0.1 * len(digits), abs=10)
    overall = digits["label"].value_counts(normalize=True).sort_index()
    in_test = split.test["label"].value_counts(normalize=True).sort_index()
    assert np.abs(overall - in_test).max() < 0.01


def test_split_is_the_same_for_the_same_seed_and_differs_for_another(digits):
    first = split_frame(digits, SplitConfig(seed=7))
    again = split_frame(digits.sample(frac=1.0, random_state=3), SplitConfig(seed=7))
    other = split_frame(digits, SplitConfig(seed=8))
    pd.testing.assert_frame_equal(first.test, again.test)
    assert set(first.test["id"]) != set(other.test["id"])


def test_tensors_are_scaled_images_and_integer_labels(digits):
    images, labels = to_tensors(digits.head(5))
    assert images.shape == (5, 1, 8, 8) and images.dtype == torch.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert labels.tolist() == digits["label"].head(5).tolist()
