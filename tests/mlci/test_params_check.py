"""`mlci check-params`: the project's registered check of params.yaml (an `mlci.params_check` entry point), which
`make repro` runs before `dvc repro`, since DVC skips a stage whose params equal the recorded ones by value."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from mlci import params_check
from mlci.cli import main
from mlci.errors import UserFacingError

FAKE_CHECK = '''
from mlci.errors import UserFacingError


def check(path):
    """A fake project's check: an int `epochs`, nothing else."""
    text = path.read_text(encoding="utf-8")
    if "epochs: 12.0" in text:
        raise UserFacingError("params.yaml: train.epochs: expected int, got float 12.0")
'''


@pytest.fixture
def registered(monkeypatch, tmp_path: Path):
    """Register entry points (name, value) in the `mlci` group for one test; the fake check is importable."""
    (tmp_path / "fake_project_config.py").write_text(FAKE_CHECK, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))

    def register(*values: str) -> None:
        points = [EntryPoint(params_check.NAME, value, params_check.GROUP) for value in values]
        points.append(EntryPoint("predictor", "elsewhere:load_predictor", params_check.GROUP))
        monkeypatch.setattr(params_check.metadata, "entry_points", lambda group: points if group == "mlci" else [])

    return register


def params(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_value_dvc_would_skip_a_stage_for_is_one_error_line(registered, tmp_path: Path, capsys) -> None:
    registered("fake_project_config:check")
    status = main(["check-params", "--params", str(params(tmp_path, "train:\n  epochs: 12.0\n"))])
    assert status == 1
    assert capsys.readouterr().err == "ERROR mlci: params.yaml: train.epochs: expected int, got float 12.0\n"


def test_good_params_pass_and_say_so(registered, tmp_path: Path, capsys) -> None:
    registered("fake_project_config:check")
    path = params(tmp_path, "train:\n  epochs: 12\n")
    assert main(["check-params", "--params", str(path)]) == 0
    assert capsys.readouterr().err == f"INFO mlci: {path}: checked\n"


def test_without_a_registered_check_the_run_goes_on_and_says_what_to_add(registered, tmp_path: Path, capsys) -> None:
    registered()
    path = params(tmp_path, "train:\n  epochs: 12.0\n")
    assert main(["check-params", "--params", str(path)]) == 0
    assert capsys.readouterr().err == (
        f"INFO mlci: {path}: no params check registered (a `params_check` entry point in group mlci): not checked\n"
    )


def test_two_checks_or_one_that_cannot_load_are_refused(registered) -> None:
    registered("fake_project_config:check", "other:check")
    with pytest.raises(UserFacingError, match=r"^several params checks registered: fake_project_config:check, "):
        params_check.find_params_check()
    registered("fake_project_config:absent")
    with pytest.raises(UserFacingError, match=r"^the registered params check 'fake_project_config:absent' cannot be"):
        params_check.find_params_check()
