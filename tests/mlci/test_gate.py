"""The quality gate: the gates file, each kind of gate on generated predictions, the override, and `mlci gate` in a
temp git repository (base commit vs workspace) with the exit status CI sees."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlci.cli import main
from mlci.gate import (
    BREACHED,
    PASSED,
    SKIPPED,
    GateError,
    GateResult,
    Gates,
    annotations,
    assess,
    evaluate_gates,
    gates_from_dict,
    load_gates,
)
from mlci.stats import compare_predictions
from tests.mlci.frames import CLASSES, contract_dict, write_project

GATES = {
    "gates": {
        "floors": ["accuracy >= 0.9", "macro_f1 >= 0.5"],
        "max_regression": {"accuracy": -0.01},
        "worst_slice": ["accuracy >= 0.8"],
        "resamples": 500,
    }
}


def predictions(rows: int, right: float, seed: int = 0) -> pd.DataFrame:
    """Per-row predictions over CLASSES: the first `right` share of a fixed random order right, the rest wrong.

    The same seed gives the same order, so a higher `right` only turns wrong rows right (paired models)."""
    rng = np.random.default_rng(seed)
    target = np.array([CLASSES[i % len(CLASSES)] for i in range(rows)])
    order = rng.permutation(rows)
    correct = np.zeros(rows, dtype=bool)
    correct[order[: int(round(right * rows))]] = True
    wrong = [CLASSES[(CLASSES.index(t) + 1) % len(CLASSES)] for t in target]
    return pd.DataFrame({"id": range(rows), "target": target, "prediction": np.where(correct, target, wrong)})


def gates(**changes) -> Gates:
    raw = json.loads(json.dumps(GATES))
    raw["gates"].update(changes)
    return gates_from_dict(raw)


# ------------------------------------------------------------------------------------------------------- the file
def test_the_gates_file_is_read_and_checked(tmp_path: Path):
    path = tmp_path / "gates.yaml"
    path.write_text(yaml.safe_dump(GATES), encoding="utf-8")
    loaded = load_gates(path)
    assert [str(b) for b in loaded.floors] == ["accuracy >= 0.9", "macro_f1 >= 0.5"]
    assert loaded.max_regression == {"accuracy": -0.01} and loaded.resamples == 500 and loaded.declared
    assert not load_gates(tmp_path / "absent.yaml").declared


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"gates": {"floors": ["accuracy => 0.9"]}}, "gates.floors[0]: 'accuracy => 0.9' is not `metric >= value`"),
        ({"gates": {"max_regression": {"accuracy": 0.01}}}, "accuracy is better higher: its allowed regression is"),
        ({"gates": {"max_regression": {"mae": -0.1}}}, "mae is better lower: its allowed regression is a change"),
        ({"gates": {"floor": []}}, "gates.floor: unknown key (known: floors, max_regression"),
        ({"gates": {"confidence": 1.5}}, "gates.confidence: 1.5 is not between 0.5 and 1"),
        ({"gates": {"resamples": 10}}, "gates.resamples: 10 is too few"),
        ({"thresholds": {}}, "thresholds: unknown key (this file holds one section, `gates:`)"),
    ],
)
def test_a_bad_gates_file_names_the_key_and_the_reason(raw, message):
    with pytest.raises(GateError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        gates_from_dict(raw)


def test_a_gate_on_a_metric_the_predictions_do_not_give_is_an_error():
    comparison = compare_predictions(predictions(60, 0.9), None, "classification", has_base=False, resamples=100)
    with pytest.raises(GateError, match=r"'mae' is not computed from the predictions of a classification"):
        evaluate_gates(gates(floors=["mae <= 1"]), comparison, {})


# ------------------------------------------------------------------------------------------------------- checks
def check(result_checks, gate: str):
    return next(c for c in result_checks if c.gate == gate)


def test_floors_apply_to_this_branch_s_value():
    comparison = compare_predictions(predictions(200, 0.85), None, "classification", has_base=False, resamples=200)
    checks = evaluate_gates(gates(), comparison, {"small": {"accuracy": 0.9}})
    floor = check(checks, "accuracy >= 0.9")
    assert floor.status == BREACHED and floor.observed == "0.8500"
    assert floor.line() == "floor `accuracy >= 0.9`: accuracy is 0.8500, not >= 0.9"
    assert check(checks, "macro_f1 >= 0.5").status == PASSED
    assert check(checks, "accuracy: -0.01").status == SKIPPED  # no base


def test_a_regression_within_noise_passes_and_a_real_one_is_breached():
    base = predictions(269, 0.97)
    noise = compare_predictions(predictions(269, 0.96), base, "classification", resamples=500)
    assert check(evaluate_gates(gates(), noise, {}), "accuracy: -0.01").status == PASSED
    real = compare_predictions(predictions(269, 0.80), base, "classification", resamples=500)
    breached = check(evaluate_gates(gates(), real, {}), "accuracy: -0.01")
    assert breached.status == BREACHED
    assert breached.detail.startswith("accuracy changed by -0.1710 (this PR − base; 95% paired interval [")
    assert breached.detail.endswith("]), beyond the allowed -0.01")


def test_a_small_real_drop_inside_the_allowed_change_passes():
    """A drop of 1.5 points is within a -0.05 allowance even though it is certain."""
    base = predictions(2000, 0.97)
    comparison = compare_predictions(predictions(2000, 0.955), base, "classification", resamples=500)
    assert comparison.metric("accuracy").verdict == "worse"
    checks = evaluate_gates(gates(max_regression={"accuracy": -0.05}), comparison, {})
    assert check(checks, "accuracy: -0.05").status == PASSED


def test_the_worst_slice_must_meet_its_floor():
    comparison = compare_predictions(predictions(60, 0.95), None, "classification", has_base=False, resamples=100)
    slices = {"small": {"accuracy": 0.95, "support": 10}, "late": {"accuracy": 0.7, "support": 5}}
    worst = check(evaluate_gates(gates(), comparison, slices), "accuracy >= 0.8")
    assert worst.status == BREACHED and worst.observed == "0.7000 (`late`)"
    assert worst.detail == "slice `late` has accuracy 0.7000, not >= 0.8"
    missing = check(evaluate_gates(gates(), comparison, {}), "accuracy >= 0.8")
    assert missing.status == BREACHED and missing.detail.startswith("no slice reports `accuracy`")


def test_an_override_turns_a_failure_into_a_warning():
    comparison = compare_predictions(predictions(100, 0.5), None, "classification", has_base=False, resamples=100)
    result = GateResult(evaluate_gates(gates(), comparison, {"s": {"accuracy": 0.9}}), comparison)
    assert result.status == "failed" and result.exit_code == 1
    assert annotations(result) == [
        "::error title=quality gate::floor `accuracy >= 0.9`: accuracy is 0.5000, not >= 0.9",
        "::error title=quality gate::floor `macro_f1 >= 0.5`: macro_f1 is 0.4998, not >= 0.5",
    ]
    accepted = GateResult(result.checks, comparison, override="label `accept-regression`")
    assert accepted.status == "overridden" and accepted.exit_code == 0
    assert annotations(accepted)[0].startswith("::warning title=quality gate (accepted%3A label `accept-regression`)::")
    assert GateResult.from_dict(json.loads(json.dumps(accepted.to_dict()))) == accepted


# ------------------------------------------------------------------------------------------------------- the command
def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A base commit with 97 % of 269 rows right; the workspace's predictions are set by each test."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write_project(root, accuracy=0.97, epochs=10, predictions=predictions(269, 0.97))
    (root / "gates.yaml").write_text(yaml.safe_dump(GATES), encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


def run_gate(root: Path, *extra: str) -> int:
    return main(["gate", "--root", str(root), "--out", str(root / "report"), "--base-ref", "main", *extra])


def test_mlci_gate_exits_1_on_a_breach_with_one_line_per_gate(repo: Path, monkeypatch, tmp_path, capsys):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    write_project(repo, accuracy=0.8, epochs=1, predictions=predictions(269, 0.8))
    assert run_gate(repo) == 1
    out, err = capsys.readouterr()
    breaches = [line for line in err.splitlines() if line.startswith("ERROR mlci: gate breached: ")]
    assert len(breaches) == 2
    assert breaches[0] == "ERROR mlci: gate breached: floor `accuracy >= 0.9`: accuracy is 0.7993, not >= 0.9"
    assert breaches[1].startswith(
        "ERROR mlci: gate breached: max regression `accuracy: -0.01`: accuracy changed by -0.1710 (this PR − base; "
        "95% paired interval ["
    )
    assert out.count("::error title=quality gate::") == 2
    written = json.loads((repo / "report/gate.json").read_text(encoding="utf-8"))
    assert written["status"] == "failed" and written["comparison"]["mode"] == "paired"
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## Quality gate: ❌ failed: 2 of 4 gates breached")
    assert "| `accuracy` | 0.7993 [" in text and "🔴 worse |" in text


def test_mlci_gate_passes_a_noise_level_change_and_the_override_passes_a_breach(repo: Path):
    write_project(repo, accuracy=0.96, epochs=10, predictions=predictions(269, 0.963))
    assert run_gate(repo) == 0
    assert "⚪ within noise" in (repo / "report/gate.md").read_text(encoding="utf-8")
    write_project(repo, accuracy=0.8, epochs=1, predictions=predictions(269, 0.8))
    assert run_gate(repo, "--override", "label `accept-regression`") == 0
    text = (repo / "report/gate.md").read_text(encoding="utf-8")
    assert text.startswith("## Quality gate: ⚠️ breached, accepted: 2 of 4 gates breached by label `accept-regression`")


def test_mlci_gate_without_predictions_says_to_run_the_pipeline(repo: Path, capsys):
    (repo / "reports/predictions.csv").unlink()
    (repo / "report").mkdir()
    (repo / "report/gate.json").write_text("{}", encoding="utf-8")
    assert run_gate(repo) == 1
    assert "reports/predictions.csv not found: run `dvc repro` (or `make repro`) first" in capsys.readouterr().err
    assert not (repo / "report/gate.json").exists()  # no stale verdict left behind


def test_a_base_without_predictions_skips_the_regression_gate_with_a_notice(repo: Path):
    git(repo, "rm", "-q", "reports/predictions.csv")
    git(repo, "commit", "-q", "-m", "no predictions")
    write_project(repo, accuracy=0.97, epochs=10, predictions=predictions(269, 0.97))
    result = assess(repo, "main")
    assert result.status == "passed"
    assert check(result.checks, "accuracy: -0.01").status == SKIPPED
    assert result.comparison.note == "the base has no per-row predictions: this PR's intervals only, no Δ interval"


def test_after_a_baseline_reset_the_summary_says_once_why_the_base_is_not_compared(repo: Path):
    write_project(repo, 0.97, 10, contract=contract_dict(classes=[*CLASSES, "fox"]), predictions=predictions(269, 0.97))
    assert run_gate(repo) == 0
    result = assess(repo, "main")
    reason = "baseline reset (the classes changed (added `fox`)): the base is not compared"
    assert result.note == reason and check(result.checks, "accuracy: -0.01").detail == reason
    text = (repo / "report/gate.md").read_text(encoding="utf-8")
    assert "Compared with the base" not in text and "no base to compare with" not in text
    assert text.count("the base is not compared") == 2  # the skipped gate's row and the notice under the table


def test_the_suite_never_writes_into_the_job_summary_of_the_job_running_it(tmp_path_factory):
    summary = Path(os.environ["GITHUB_STEP_SUMMARY"])
    assert summary.parent == tmp_path_factory.getbasetemp()
    assert "GITHUB_ACTIONS" not in os.environ
