import subprocess
import sys
from pathlib import Path

import pytest

from digitnet.config import Config, ConfigError, config_from_dict, load_config

REPO_PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


def test_repository_params_load_with_their_values():
    config = load_config(REPO_PARAMS)
    assert isinstance(config, Config)
    assert config.train.device == "auto"
    assert 0 < config.split.test_fraction < 0.5


def test_missing_sections_take_defaults():
    assert config_from_dict({}) == Config()


def test_integer_is_accepted_where_a_float_is_expected():
    assert config_from_dict({"train": {"learning_rate": 1}}).train.learning_rate == 1.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"train": {"learnig_rate": 0.1}},
            "params.yaml: train.learnig_rate: unknown key (known: batch_size, channels, compile, depth, "
            "device, dropout, epochs, learning_rate, processes, seed, threads, weight_decay)",
        ),
        (
            {"trian": {}},
            "params.yaml: trian: unknown section (known: evaluate, split, train)",
        ),
        (
            {"train": {"epochs": "ten"}},
            "params.yaml: train.epochs: expected int, got str 'ten'",
        ),
        (
            {"train": {"epochs": 2.5}},
            "params.yaml: train.epochs: expected int, got float 2.5",
        ),
        (
            {"train": {"epochs": True}},
            "params.yaml: train.epochs: expected int, got bool True",
        ),
        (
            {"train": {"learning_rate": 0.0}},
            "params.yaml: train.learning_rate: 0.0 is outside [1e-06, 10.0]",
        ),
        (
            {"train": {"depth": 4}},
            "params.yaml: train.depth: 4 is outside [1, 3]",
        ),
        (
            {"train": {"threads": 0}},
            "params.yaml: train.threads: 0 is outside [1, 256]",
        ),
        (
            {"train": {"compile": "yes"}},
            "params.yaml: train.compile: expected bool, got str 'yes'",
        ),
        (
            {"train": {"device": "tpu"}},
            "params.yaml: train.device: 'tpu' is not one of auto, cpu, cuda",
        ),
        (
            {"split": {"val_fraction": 0.45, "test_fraction": 0.45}},
            "params.yaml: split.val_fraction + split.test_fraction must leave at least 10% " "for training",
        ),
        ({"train": [1, 2]}, "params.yaml: train: expected a mapping, got list"),
        ([1, 2], "params.yaml: expected a mapping of sections (split, train, evaluate)"),
    ],
)
def test_bad_params_fail_with_one_line_naming_the_key(raw, message):
    with pytest.raises(ConfigError) as error:
        config_from_dict(raw)
    assert str(error.value) == message


def test_missing_params_file_says_where_to_run(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "params.yaml")
    assert str(error.value) == (
        f"{tmp_path / 'params.yaml'} not found: run from the repository root, or pass --params PATH"
    )


def test_invalid_yaml_is_reported_as_such(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}: not valid YAML (ParserError:")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train:\n  learning_rate: .nan\n", "params.yaml: train.learning_rate: expected a finite float, got nan"),
        ("split:\n  val_fraction: .nan\n", "params.yaml: split.val_fraction: expected a finite float, got nan"),
        ("train:\n  weight_decay: .inf\n", "params.yaml: train.weight_decay: expected a finite float, got inf"),
        ("train:\n  dropout: -.inf\n", "params.yaml: train.dropout: expected a finite float, got -inf"),
        ("train:\n  epochs: 12.0\n", "params.yaml: train.epochs: expected int, got float 12.0"),
        ("train:\n  epochs: .inf\n", "params.yaml: train.epochs: expected int, got float inf"),
        ("split:\n  seed: .nan\n", "params.yaml: split.seed: expected int, got float nan"),
        ("train:\n  seed: 185000000000000\n", "params.yaml: train.seed: 185000000000000 is outside [0, 4294967295]"),
        ("split:\n  seed: 4294967296\n", "params.yaml: split.seed: 4294967296 is outside [0, 4294967295]"),
        ("evaluate:\n  batch_size: 512.0\n", "params.yaml: evaluate.batch_size: expected int, got float 512.0"),
        (
            "train:\n  learning_rate: 1e-3\n",
            "params.yaml: train.learning_rate: expected float, got str '1e-3' "
            "(YAML reads a number without a dot as text: write it like 1.0e-3)",
        ),
    ],
)
def test_non_finite_floats_and_floats_in_int_fields_fail_with_one_line(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == message
    assert "\n" not in str(error.value)


def test_mlci_check_params_runs_this_projects_check_through_its_entry_point(tmp_path):
    """pyproject.toml registers load_config as the `mlci.params_check` entry point: `make repro` runs it first."""
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  epochs: 12.0\n")
    done = subprocess.run(
        [sys.executable, "-m", "mlci.cli", "check-params", "--params", str(path)], capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (
        1,
        "ERROR mlci: params.yaml: train.epochs: expected int, got float 12.0\n",
    )
