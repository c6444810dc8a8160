"""The model card carries the report's statistics: each test metric with the interval `make gate` computes (the same
numbers, from gates.yaml's settings), the gates' floors and the slices with theirs, the data contract's summary, the
training commit, the command that verifies the release, and a `model-index` front matter a model hub reads."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlci.contract import contract_from_dict, dump_contract
from mlci.files import CONTRACT, PREDICTIONS
from mlci.model_card import card_context, render_model_card, verify_command

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "templates" / "model_card.md.j2"
CARD_CONTRACT = contract_from_dict(
    {
        "path": "data/animals.csv",
        "target": {"name": "species", "task": "classification", "classes": ["cat", "dog"]},
        "rows": {"min": 10, "max": 500},
        "features": {
            "width": {"type": "float", "min": 0, "max": 10},
            "count": {"type": "int", "min": 0, "max": 5, "nullable": True},
        },
    }
)
GATES = """gates:
  floors: [accuracy >= 0.8]
  worst_slice: [accuracy >= 0.75]
  confidence: 0.9
  resamples: 500
  seed: 7
"""


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    done = subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A repository with a contract, gates, predictions (90% right), a metrics file with slices, and dvc.lock."""
    root = tmp_path / "repo"
    root.mkdir()
    dump_contract(CARD_CONTRACT, root / CONTRACT)
    (root / "gates.yaml").write_text(GATES, encoding="utf-8")
    (root / "params.yaml").write_text("train: {lr: 0.1}\n", encoding="utf-8")
    (root / "dvc.yaml").write_text(
        "stages:\n  evaluate:\n    cmd: echo\n    metrics:\n      - scores.json:\n          cache: false\n",
        encoding="utf-8",
    )
    (root / "scores.json").write_text(
        json.dumps({"accuracy": 0.9, "slices": {"wide": {"accuracy": 0.7, "support": 12}}}), encoding="utf-8"
    )
    target = ["cat", "dog"] * 30
    prediction = [t if i % 10 else ("dog" if t == "cat" else "cat") for i, t in enumerate(target)]
    (root / PREDICTIONS).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": range(60), "target": target, "prediction": prediction}).to_csv(root / PREDICTIONS, index=False)
    (root / "dvc.lock").write_text("schema: '2.0'\n", encoding="utf-8")
    git(root, "init", "--quiet")
    git(root, "remote", "add", "origin", "git@github.com:octo/animals.git")
    git(root, "add", ".")
    git(root, "commit", "--quiet", "-m", "trained")
    return root


def card_of(root: Path, monkeypatch) -> str:
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    data = {"dvc": {"data/animals.csv": "abc123"}, "commit": "d" * 40}
    metadata = {"version": "v1.0.0", "commit": "c" * 40, "data": data, "params_digest": "sha256:0"}
    return render_model_card(root, metadata, TEMPLATE)


def interval_rows(card: str) -> dict[str, tuple[str, str, str]]:
    """metric: (value, low, high) as the card's metrics table prints them."""
    rows = re.findall(r"^\| (\w+) \| (\d\.\d{4}) \| (\d\.\d{4}) – (\d\.\d{4}) \|$", card, re.MULTILINE)
    return {name: (value, low, high) for name, value, low, high in rows}


def gate_intervals(root: Path, out: Path, base_ref: str = "") -> dict[str, tuple[str, str, str]]:
    """This branch's intervals as `mlci gate` (what `make gate` runs) writes them into gate.json, to 4 places."""
    done = subprocess.run(
        [sys.executable, "-m", "mlci.cli", "gate", "--base-ref", base_ref, "--out", str(out)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: a gate breached; the intervals are written all the same
    metrics = json.loads((out / "gate.json").read_text())["comparison"]["metrics"]
    return {m["name"]: tuple(f"{m['pr'][key]:.4f}" for key in ("estimate", "low", "high")) for m in metrics}


def test_the_cards_intervals_are_make_gates_with_the_gates_settings(workspace, monkeypatch, tmp_path) -> None:
    card = card_of(workspace, monkeypatch)
    shown = interval_rows(card)
    assert set(shown) == {"accuracy", "macro_f1"}
    assert shown == gate_intervals(workspace, tmp_path / "gate")
    assert "| metric | value | 90% interval (bootstrap over the 60 test rows) |" in card
    assert "a percentile bootstrap with 500 resamples, seed 7 (`gates.yaml`)" in card


def test_the_card_lists_the_floors_and_the_slices_with_their_floor(workspace, monkeypatch) -> None:
    card = card_of(workspace, monkeypatch)
    assert "| `accuracy >= 0.8` | floor | 0.9000 | passed |" in card
    assert "| `accuracy >= 0.75` | worst slice | 0.7000 (`wide`) | breached |" in card
    assert "Every slice must meet `accuracy >= 0.75` (the worst-slice gate)." in card
    assert "| wide | 0.7 | 12 |" in card


def test_the_card_summarises_the_contract_and_names_the_training_commit(workspace, monkeypatch) -> None:
    card = card_of(workspace, monkeypatch)
    assert "- data: `data/animals.csv`, 10 to 500 rows" in card
    assert "- target: `species`, classification over 2 classes (cat, dog)" in card
    assert "- 1 float feature, values 0 to 10" in card
    assert "- 1 int feature, values 0 to 5, 1 nullable" in card
    assert f"| training commit | `{git(workspace, 'rev-parse', 'HEAD')}` (the commit whose `dvc.lock`" in card


def test_the_card_says_how_to_verify_the_release_keyless_from_the_repository(workspace, monkeypatch) -> None:
    card = card_of(workspace, monkeypatch)
    assert "```bash\nmlci verify model-v1.0.0.tar.gz --repository octo/animals\n```" in card
    assert "keyless: Sigstore, by the release workflow of `octo/animals`" in card
    monkeypatch.setenv("GITHUB_REPOSITORY", "other/repo")  # in a workflow, the repository that runs it
    assert card_context(workspace, {"version": "v1.0.0"})["verify_command"] == (
        "mlci verify model-v1.0.0.tar.gz --repository other/repo"
    )
    assert verify_command("v1.0.0", None) == "mlci verify model-v1.0.0.tar.gz --public-key signing-key.pub"


def test_the_card_opens_with_a_model_index_a_model_hub_reads(workspace, monkeypatch) -> None:
    card = card_of(workspace, monkeypatch)
    assert card.startswith("---\n")
    _, front_matter, body = card.split("---\n", 2)
    assert body.startswith("# Model card: species (classification), v1.0.0")
    (entry,) = yaml.safe_load(front_matter)["model-index"]
    assert entry["name"] == "animals"
    (result,) = entry["results"]
    assert result["task"]["type"] == "tabular-classification"
    assert result["dataset"] == {"type": "data/animals.csv", "name": "data/animals.csv", "split": "test"}
    shown = interval_rows(card)
    for metric in result["metrics"]:
        value, low, high = shown[metric["type"]]
        assert f"{metric['value']:.4f}" == value
        assert metric["name"] == f"{metric['type']} (90% interval {low}–{high})"


def test_the_reference_models_card_shows_the_intervals_make_gate_reports(tmp_path, monkeypatch) -> None:
    if not (REPO_ROOT / PREDICTIONS).is_file():
        pytest.skip(f"{PREDICTIONS} is not committed here: run `make repro`")
    card = card_of(REPO_ROOT, monkeypatch)
    shown = interval_rows(card)
    has_main = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "main"], cwd=REPO_ROOT, capture_output=True)
    has_main = has_main.returncode == 0
    base = "main" if has_main else ""  # `make gate`'s BASE_REF: the base changes the Δ, not this model's intervals
    assert shown and shown == gate_intervals(REPO_ROOT, tmp_path / "gate", base)


def test_the_card_names_each_class_by_its_display_name_when_the_contract_gives_one(workspace, monkeypatch) -> None:
    named = replace(CARD_CONTRACT, target=replace(CARD_CONTRACT.target, names=(("dog", "Canis familiaris"),)))
    dump_contract(named, workspace / CONTRACT)
    assert "| output | one of cat (cat), dog (Canis familiaris), with a probability per class |" in card_of(
        workspace, monkeypatch
    )
    dump_contract(CARD_CONTRACT, workspace / CONTRACT)
    assert "| output | one of cat, dog, with a probability per class |" in card_of(workspace, monkeypatch)
