"""A new user renames the package and swaps in their own data and model, following README's "Make it yours"
literally, and the template keeps working: `make lint`, `make test`, `make repro`, `make report` and the pull-request
workflow under act pass, and a bad row in the new data fails validation naming its column.

The rename comes first, as template-init.yml makes it on a repository's first push (`make rename`), so the copy's
`make lint` and `make test` are also those of a renamed package (tests/template/test_new_user.py checks the rename
itself and `make repro` with the reference project renamed).

The data is a generated table, nothing like the digits: floats of different scales, integers, a category, string
class labels and a few nulls in one column. The user edits only the files README names (HAND_EDITED, printed and
checked against git's list of what changed); everything else that changes is a command's output (COMMAND_OUTPUTS:
`make suite` writes gx/, `dvc add data` rewrites data.dvc, `dvc push` fills the bundled store, `make repro` writes
dvc.lock, the metrics and the predictions). The machinery, the workflows, the Makefile, the Dockerfile and dvc.yaml
stay as they are.

The copy gets a venv on top of this one with only the copy installed into it (tests/project_copy.py), as the
new-user test does; its `make test` runs without MLCI_TEMPLATE_TESTS, as a repository made from the template does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from project_copy import IDENTITY, PROJECT, copy_project, install_project, venv_on_top_of_this_one
from serve_client import first_test_row, post, served

from mlci.template.manifest import load_manifest, tracked_files

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "workflows" / "act"))
from act_harness import PR_JOBS, ActSettings, quick_code_job, run_act  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("ACT")), reason="already inside an act run: no act within act"),
]

# The package after `make rename`. Derived, not spelled out: the copy's fence check (make lint) fails on a template
# file that names the copy's package, and this file is one.
PACKAGE = f"zz{PROJECT.package}_loans"  # sorts after `mlci`
DATA_FILE = "data/loans.csv"
TARGET = "risk"
CLASSES = ("high", "low", "mid")
REGIONS = ("east", "north", "south", "west")
MAX_HAND_EDITED = 6
# What the user edits by hand (data.schema.yaml is drafted by `make schema`, then reviewed: it counts as an edit).
HAND_EDITED = (
    "data.schema.yaml",
    "gates.yaml",
    f"src/{PACKAGE}/evaluate.py",
    f"src/{PACKAGE}/model.py",
    f"src/{PACKAGE}/preprocess.py",
    f"tests/{PACKAGE}/test_behaviour.py",
)
# Written by commands the README names, not by hand.
COMMAND_OUTPUTS = re.compile(r"^(gx/|dvc-store/|dvclive/|reports/)|^(data\.dvc|dvc\.lock)$")
FORBIDDEN = re.compile(r"^(src/mlci/|\.github/)|^(Makefile|Dockerfile|dvc\.yaml)$")


def loans(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """A tabular data set: four floats of different scales (one with a few nulls), two integers, a category, and a
    risk class (low/mid/high) that depends on most of them plus noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(1, rows + 1),
            "income": rng.lognormal(10.8, 0.4, rows).round(2),
            "debt_ratio": rng.beta(2, 5, rows).round(4),
            "temperature": rng.normal(15.0, 8.0, rows).round(3),
            "credit_score": rng.normal(650.0, 60.0, rows).round(1) + 0.05,
            "open_accounts": rng.integers(0, 21, rows),
            "age": rng.integers(18, 81, rows),
            "region": rng.choice(REGIONS, rows),
        }
    )
    standard = {name: (frame[name] - frame[name].mean()) / frame[name].std() for name in frame.columns[1:7]}
    region_effect = frame["region"].map({"east": 0.0, "north": 0.8, "south": -0.8, "west": 0.3})
    latent = (
        -1.2 * standard["income"]
        + 1.0 * standard["debt_ratio"]
        - 0.8 * standard["credit_score"]
        + 0.4 * standard["open_accounts"]
        + region_effect
        + rng.normal(0.0, 0.35, rows)
    )
    frame[TARGET] = pd.qcut(latent, 3, labels=["low", "mid", "high"]).astype(str)
    frame.loc[rng.choice(rows, 30, replace=False), "credit_score"] = np.nan  # not recorded for a few applicants
    return frame


# --------------------------------------------------------------------------------------- the user's replacements
# Written with `{package}` for the package's name; `Swap.edit` puts the renamed package's name in.
PREPROCESS = '''\
"""YOURS: tabular preprocessing, fitted on the training split and saved with the model.

Numeric features are standardised with the training split's mean and std; a null, where the contract allows one,
becomes the mean (0 after scaling). Each category becomes one-hot columns, one per value the contract allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlci.contract import DataContract

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Preprocessor:
    """Means and stds of the numeric features, the values of each category, and the class labels in index order."""

    numeric: tuple[str, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]
    nullable: tuple[str, ...]
    categories: tuple[tuple[str, tuple[str, ...]], ...]
    classes: tuple

    @property
    def features(self) -> tuple[str, ...]:
        return (*self.numeric, *(name for name, _ in self.categories))

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(len(values) for _, values in self.categories)

    def inputs(self, frame: pd.DataFrame) -> torch.Tensor:
        """Rows to float32 (N, width): standardised numbers, then the one-hot categories."""
        import torch

        numbers = frame[list(self.numeric)].to_numpy(dtype=np.float64)
        scaled = (numbers - np.asarray(self.means)) / np.asarray(self.stds)
        fill = np.isin(np.asarray(self.numeric), self.nullable) & np.isnan(numbers)
        scaled[fill] = 0.0
        one_hot = [
            frame[name].astype(str).to_numpy()[:, None] == np.asarray(values)[None, :]
            for name, values in self.categories
        ]
        return torch.tensor(np.hstack([scaled, *one_hot]).astype(np.float32))

    def targets(self, frame: pd.DataFrame, column: str) -> torch.Tensor:
        """Class labels to int64 indexes into `classes`."""
        import torch

        index = {label: position for position, label in enumerate(self.classes)}
        return torch.tensor(frame[column].map(index).to_numpy(dtype=np.int64))

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": list(self.numeric),
            "means": list(self.means),
            "stds": list(self.stds),
            "nullable": list(self.nullable),
            "categories": [[name, list(values)] for name, values in self.categories],
            "classes": list(self.classes),
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Preprocessor:
        return cls(
            numeric=tuple(saved["numeric"]),
            means=tuple(saved["means"]),
            stds=tuple(saved["stds"]),
            nullable=tuple(saved["nullable"]),
            categories=tuple((name, tuple(values)) for name, values in saved["categories"]),
            classes=tuple(saved["classes"]),
        )


def fit_preprocessor(train: pd.DataFrame, contract: DataContract) -> Preprocessor:
    """Means and stds from the training split only; category values from the contract (so every allowed value has
    a column, seen in training or not)."""
    numeric = [feature.name for feature in contract.features if feature.numeric]
    numbers = train[numeric].astype(np.float64)
    stds = numbers.std().fillna(1.0).replace(0.0, 1.0)
    return Preprocessor(
        numeric=tuple(numeric),
        means=tuple(round(float(value), 6) for value in numbers.mean()),
        stds=tuple(round(float(value), 6) for value in stds),
        nullable=tuple(feature.name for feature in contract.features if feature.numeric and feature.nullable),
        categories=tuple(
            (feature.name, tuple(str(value) for value in feature.values))
            for feature in contract.features
            if feature.type == "category"
        ),
        classes=tuple(contract.target.classes),
    )


def to_tensors(frame: pd.DataFrame, preprocessor: Preprocessor, target: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and target indexes of a labelled frame."""
    return preprocessor.inputs(frame), preprocessor.targets(frame, target)
'''

MODEL = '''\
"""YOURS: the model, an MLP on the preprocessed table (train.channels wide, train.depth hidden layers), and its
file format."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from {package}.config import TrainConfig
from {package}.errors import UserFacingError
from {package}.preprocess import Preprocessor
from {package}.storage import save_whole


@dataclass(frozen=True)
class ModelSpec:
    """What it takes to rebuild the network: saved next to its weights."""

    inputs: int
    num_classes: int
    width: int
    depth: int
    dropout: float

    @classmethod
    def for_data(cls, config: TrainConfig, preprocessor: Preprocessor) -> ModelSpec:
        return cls(
            inputs=preprocessor.width,
            num_classes=len(preprocessor.classes),
            width=config.channels,
            depth=config.depth,
            dropout=config.dropout,
        )


class TabularMLP(nn.Module):
    """`depth` blocks of linear + ReLU + dropout, then a linear classifier."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = spec.inputs
        for _ in range(spec.depth):
            layers += [nn.Linear(size, spec.width), nn.ReLU(), nn.Dropout(spec.dropout)]
            size = spec.width
        self.layers = nn.Sequential(*layers, nn.Linear(size, spec.num_classes))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.layers(inputs)


def build_model(spec: ModelSpec, seed: int) -> TabularMLP:
    """Build the network with weights drawn from `seed`, without touching the global RNG's later state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TabularMLP(spec)


@dataclass(frozen=True)
class SavedModel:
    """A trained model with its spec and the preprocessing fitted with it."""

    model: TabularMLP
    spec: ModelSpec
    preprocessor: Preprocessor


def save_model(model: nn.Module, spec: ModelSpec, preprocessor: Preprocessor, path: str | Path) -> None:
    """Weights, spec and preprocessing together, tensors and plain values only (loads with weights_only); written
    whole or not at all (save_whole: a full disk is one line naming the file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    save_whole({"spec": asdict(spec), "preprocessor": preprocessor.to_dict(), "state_dict": state}, path)


def load_model(path: str | Path) -> SavedModel:
    """Load a model saved by `save_model`, on the CPU, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise UserFacingError(f"{path} not found: run `dvc repro train` first")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        spec = ModelSpec(**saved["spec"])
        model = TabularMLP(spec)
        model.load_state_dict(saved["state_dict"])
        preprocessor = Preprocessor.from_dict(saved["preprocessor"])
    except Exception as error:  # a truncated or foreign file: the fix is the same whatever torch raised
        raise UserFacingError(
            f"{path} is not a model saved by this project ({type(error).__name__}): rebuild it with `dvc repro train`"
        ) from error
    return SavedModel(model.eval(), spec, preprocessor)
'''

# evaluate.py: the user replaces only the slices (the metrics and the predictions file stay as they are).
SLICES_BLOCK = """\
# Slices: named subsets of the test data where a model may do worse than on average: here, each region.
REGIONS = ("east", "north", "south", "west")


def _in_region(region: str) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda frame: (frame["region"] == region).to_numpy()


SLICES: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {f"region_{name}": _in_region(name) for name in REGIONS}
"""

USER_TESTS = '''\
"""Facts of the loans data and behaviour of the trained model: standardised inputs, nulls filled, one-hot regions,
a minimum accuracy overall and in every region."""

import pytest
import torch

from {package}.config import TrainConfig
from {package}.evaluate import SLICES, evaluate
from {package}.model import SavedModel
from {package}.preprocess import to_tensors
from {package}.train import train

MIN_ACCURACY = 0.7
MIN_SLICE_ACCURACY = 0.5


def test_numeric_inputs_are_standardised_on_the_training_split(data_split, preprocessor):
    inputs = preprocessor.inputs(data_split.train)[:, : len(preprocessor.numeric)]
    assert torch.allclose(inputs.mean(dim=0), torch.zeros(len(preprocessor.numeric)), atol=1e-4)


def test_a_missing_credit_score_becomes_the_training_mean(data_split, preprocessor):
    missing = data_split.train[data_split.train["credit_score"].isna()]
    assert len(missing) > 0
    column = preprocessor.numeric.index("credit_score")
    assert (preprocessor.inputs(missing)[:, column] == 0).all()


def test_each_row_has_exactly_one_region(data_split, preprocessor):
    one_hot = preprocessor.inputs(data_split.test)[:, len(preprocessor.numeric) :]
    assert one_hot.shape[1] == 4 and (one_hot.sum(dim=1) == 1).all()


@pytest.fixture(scope="module")
def test_evaluation(data_split, preprocessor, spec_for, contract):
    config = TrainConfig(epochs=12, channels=32, depth=2, device="cpu")
    sets = (to_tensors(frame, preprocessor, contract.target.name) for frame in (data_split.train, data_split.val))
    result = train(config, *sets, spec=spec_for(config))
    return evaluate(SavedModel(result.model, result.spec, preprocessor), data_split.test, contract)


def test_model_reaches_the_minimum_accuracy_overall_and_in_every_region(test_evaluation):
    assert test_evaluation.metrics["accuracy"] >= MIN_ACCURACY
    assert set(test_evaluation.metrics["slices"]) == set(SLICES)
    assert all(row["accuracy"] >= MIN_SLICE_ACCURACY for row in test_evaluation.metrics["slices"].values())
'''

GATES = {
    "    - accuracy >= 0.95\n    - macro_f1 >= 0.95\n": "    - accuracy >= 0.70\n    - macro_f1 >= 0.70\n",
    "  worst_slice:\n    - accuracy >= 0.85\n": "  worst_slice:\n    - accuracy >= 0.50\n",
}


# ------------------------------------------------------------------------------------------------------ running it
@dataclass
class Swap:
    """The swapped copy, its environment, and each step's output and seconds."""

    project: Path
    venv: Path
    env: dict
    template: Path  # the template's repository, v1.0.0 the release the copy was made from
    package: str  # the name the copy's package was renamed to
    label: str  # what its log lines start with: the swap's name
    steps: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, command: list[str] | str, timeout: int = 1200) -> subprocess.CompletedProcess:
        """Run a step in the copy (a string runs in bash, as the README's lines would), timed and kept by name."""
        started = time.perf_counter()
        done = subprocess.run(
            command if isinstance(command, list) else ["bash", "-euo", "pipefail", "-c", command],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.seconds[name] = round(time.perf_counter() - started, 1)
        self.steps[name] = done
        print(f"[{self.label}] {name}: exit {done.returncode} in {self.seconds[name]} s", flush=True)
        return done

    def must(self, name: str, command: list[str] | str) -> subprocess.CompletedProcess:
        done = self.run(name, command)
        assert done.returncode == 0, f"{name} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        return done

    def edit(self, relative: str, text: str) -> None:
        """A hand edit: write the file (`{package}` in it: the renamed package's name) and show it."""
        text = text.replace("{package}", self.package)
        (self.project / relative).write_text(text, encoding="utf-8")
        print(f"\n[{self.label}] ---- hand-edited {relative} ----\n{text}", flush=True)


def set_template_version(project: Path, version: str) -> None:
    manifest = project / "template.toml"
    text, count = re.subn(r'^version = ".*"$', f'version = "{version}"', manifest.read_text(), count=1, flags=re.M)
    assert count == 1, "template.toml has no `version = ...` line"
    manifest.write_text(text)


def tag_release(template: Path, version: str, message: str) -> None:
    set_template_version(template, version)
    for args in (["add", "-A"], ["commit", "-q", "-m", message], ["tag", version]):
        subprocess.run(["git", *IDENTITY, *args], cwd=template, check=True, capture_output=True)


def release_the_template(destination: Path) -> Path:
    """The template's repository, this working tree as its release v1.0.0."""
    template = copy_project(destination, include_untracked=True)
    tag_release(template, "v1.0.0", "Release v1.0.0")
    return template


def use_this_template(template: Path, ref: str, destination: Path) -> Path:
    """What GitHub's "Use this template" makes: the files of REF, one new commit, no history, no tags."""
    destination.mkdir()
    archive = subprocess.run(["git", "archive", ref], cwd=template, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(destination)], input=archive, check=True)
    for args in (["init", "-q", "--initial-branch=main"], ["add", "-A"], ["commit", "-q", "-m", "Initial commit"]):
        subprocess.run(["git", *IDENTITY, *args], cwd=destination, check=True, capture_output=True)
    return destination


GIT = "git -c user.name='New User' -c user.email=new.user@example.com"


def swap_in_data(root: Path, name: str, package: str, data: pd.DataFrame, data_file: str, target: str) -> Swap:
    """README's "Make it yours" up to the code: the template released as v1.0.0, a copy made as "Use this template"
    makes it, renamed to `package` on `main` (template-init's first-push rename) and set up (`make data`); then, on a
    branch, `data` in place of the digits, its contract drafted (and kept as drafted), the suite rebuilt, the data
    tracked and pushed, and the reference data gone from the bundled store."""
    template = release_the_template(root / "template")
    project = use_this_template(template, "v1.0.0", root / name)
    venv = venv_on_top_of_this_one(root / "venv")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "COV_", "MAKE", "MLCI_")) and key != "VIRTUAL_ENV"
    }
    env.update(VENV=str(venv), CI="true", PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}")
    swap = Swap(project, venv, env, template, package, label=name)
    swap.must("make rename", ["make", "rename", f"NAME={package}"])
    swap.must("git commit (rename)", f"{GIT} add -A && {GIT} commit -q -m 'Rename the package to {package}'")
    install_project(venv, project)
    swap.must("make data (set-up)", ["make", "data"])
    swap.must("git switch -c my-data", f"{GIT} switch -q -c my-data")

    data.to_csv(root / "new.csv", index=False)
    swap.must("rm data/digits.csv && cp new data/", f"rm data/digits.csv && cp {root / 'new.csv'} {data_file}")
    swap.must("make schema", ["make", "schema", f"CSV={data_file}", f"TARGET={target}", "ID=id"])
    print(f"\n[{swap.label}] ---- data.schema.yaml as drafted ----\n{(project / 'data.schema.yaml').read_text()}")
    swap.must("make suite", ["make", "suite"])
    swap.must("dvc add data && dvc push", "dvc add -q data && dvc push -q")
    swap.must("dvc gc (the bundled store)", "dvc gc --workspace --cloud --remote bundled --force -q")
    return swap


def replace_slices(evaluate_py: str, slices_block: str) -> str:
    """evaluate.py with its `# Slices:` ... `SLICES = {...}` block replaced."""
    block = re.compile(r"^# Slices:.*?^SLICES: .*?^}\n", re.MULTILINE | re.DOTALL)
    assert block.search(evaluate_py), "evaluate.py has no `# Slices:` ... `SLICES = {...}` block to replace"
    return block.sub(lambda _: slices_block, evaluate_py, count=1)


def replaced(text: str, replacements: dict[str, str], name: str) -> str:
    """`text` with each key replaced by its value; each key must be there."""
    for old, new in replacements.items():
        assert old in text, f"{name} has no {old!r}"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def swap(tmp_path_factory) -> Swap:
    """The loans swap: README's "Make it yours" step by step (`swap_in_data`, then the code), and committed."""
    swap = swap_in_data(tmp_path_factory.mktemp("swap"), "loans", PACKAGE, loans(), DATA_FILE, TARGET)
    project = swap.project

    # README: the model, its preprocessing, the slices, the quality gates and the tests that assert digit facts.
    swap.edit(f"src/{PACKAGE}/preprocess.py", PREPROCESS)
    swap.edit(f"src/{PACKAGE}/model.py", MODEL)
    evaluate_py = (project / f"src/{PACKAGE}/evaluate.py").read_text()
    swap.edit(f"src/{PACKAGE}/evaluate.py", replace_slices(evaluate_py, SLICES_BLOCK))
    swap.edit("gates.yaml", replaced((project / "gates.yaml").read_text(), GATES, "gates.yaml"))
    swap.edit(f"tests/{PACKAGE}/test_behaviour.py", USER_TESTS)

    swap.must("make repro", ["make", "repro"])
    swap.must("git add -A && git commit", f"{GIT} add -A && {GIT} commit -q -m 'My data and model'")
    return swap


def test_the_user_edits_at_most_six_files_by_hand_and_none_of_the_templates(swap):
    changed = swap.must("git diff --name-status main", ["git", "diff", "--name-status", "main", "HEAD"]).stdout
    paths = [line.split("\t")[-1] for line in changed.splitlines()]
    by_hand = sorted(path for path in paths if not COMMAND_OUTPUTS.search(path))
    outputs = sorted({re.sub(r"/.*", "/", path) for path in paths if COMMAND_OUTPUTS.search(path)})
    print(f"\n[swap] edited by hand ({len(by_hand)}): {', '.join(by_hand)}")
    print(f"[swap] written by commands: {', '.join(outputs)}")
    assert by_hand == sorted(HAND_EDITED)
    assert len(by_hand) <= MAX_HAND_EDITED
    assert [path for path in paths if FORBIDDEN.search(path)] == []
    assert "data.dvc" in paths  # `dvc add data`'s output


def test_readme_names_every_file_the_user_edits_and_every_command_run(swap):
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Make it yours", 1)[1].split("\n## ", 1)[0]
    assert [path for path in HAND_EDITED if Path(path).name not in section] == []
    commands = ("git switch -c", "make schema CSV=", "make suite", "dvc add data && dvc push", "dvc gc --workspace")
    for command in (*commands, "make repro && make test", "make act"):
        assert command in section, command


def _stored(project: Path, ref: str) -> list[str]:
    """The bundled store's files for the data data.dvc tracks at `ref`: the directory's manifest and each file in it."""

    def show(path: str) -> str:
        return subprocess.run(["git", "show", f"{ref}:{path}"], cwd=project, capture_output=True, text=True).stdout

    def where(digest: str) -> str:
        return f"dvc-store/files/md5/{digest[:2]}/{digest[2:]}"

    manifest = where(re.search(r"md5: (\S+)", show("data.dvc")).group(1))
    return [manifest, *(where(entry["md5"]) for entry in json.loads(show(manifest)))]


def test_the_bundled_store_holds_the_new_data_and_not_the_reference_data(swap):
    assert [name for name in _stored(swap.project, "HEAD") if not (swap.project / name).is_file()] == []
    reference = _stored(swap.project, "main")  # main's own commit keeps them until the PR merges
    assert len(reference) == 2 and [name for name in reference if (swap.project / name).exists()] == []


def test_make_repro_trains_on_the_new_data(swap):
    output = swap.steps["make repro"].stdout
    assert "Running stage 'train'" in output and "Running stage 'evaluate'" in output
    metrics = (swap.project / "dvclive/evaluate/metrics.json").read_text()
    assert set(re.findall(r'"(region_\w+)"', metrics)) == {f"region_{name}" for name in REGIONS}
    predictions = pd.read_csv(swap.project / "reports/predictions.csv")
    assert list(predictions.columns) == ["id", "target", "prediction", *(f"proba_{label}" for label in CLASSES)]
    assert (predictions["prediction"] == predictions["target"]).mean() >= 0.7


def test_make_lint_passes(swap):
    done = swap.run("make lint", ["make", "lint"])
    hooks = done.stdout.split("All changes made by hooks:")[0]
    assert done.returncode == 0, hooks[-4000:] + done.stderr[-4000:]


def test_make_test_passes_with_the_coverage_gate(swap):
    # In one process: the suite running this test already keeps every core busy, and each extra pytest-xdist worker
    # imports torch and collects the suite again (a fifth more CPU for the same tests).
    done = swap.run("make test", ["make", "test", "PYTEST_WORKERS=0", "PYTEST_ARGS=-p no:cacheprovider"])
    print(done.stdout[-2500:])
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert f"--cov={PACKAGE}" in done.stdout  # the Makefile measures the renamed package
    assert "Required test coverage of" in done.stdout and "reached" in done.stdout


def test_make_report_says_the_baseline_was_reset(swap):
    done = swap.must("make report", ["make", "report"])
    report = (swap.project / "report" / "report.md").read_text(encoding="utf-8")
    assert "baseline reset" in report, report[:3000]
    assert done.returncode == 0


def test_make_gate_passes_the_floors_and_skips_the_regression_gates_for_the_reset(swap):
    done = swap.must("make gate", ["make", "gate"])
    assert "INFO mlci: quality gate passed (5 gates; report/gate.md)" in done.stdout + done.stderr
    gate = (swap.project / "report" / "gate.md").read_text(encoding="utf-8")
    for floor in ("accuracy >= 0.7", "macro_f1 >= 0.7", "accuracy >= 0.5"):  # as the gate prints GATES' floors
        assert re.search(rf"\| `{re.escape(floor)}` \|[^\n]*✅ passed", gate), gate
    skipped = [line for line in gate.splitlines() if "➖ skipped" in line]
    assert len(skipped) == 2 and all("baseline reset (" in line for line in skipped), gate


def test_make_serve_answers_a_test_row_as_the_predictions_file_says(swap, tmp_path):
    row, expected = first_test_row(swap.project)
    with served(swap.project, swap.env, tmp_path / "serve.log") as base:
        status, body = post(f"{base}/predict", {"rows": [{k: v for k, v in row.items() if k != TARGET}]})
    assert status == 200, body
    [answer] = body["predictions"]
    assert (answer["id"], answer["prediction"]) == (row["id"], expected)
    assert [key for key in answer if key.startswith("proba_")] == [f"proba_{label}" for label in CLASSES]


def test_a_bad_row_in_the_new_data_fails_validation_naming_the_column(swap):
    csv = swap.project / DATA_FILE
    rows = pd.read_csv(csv)
    bad = rows.iloc[[0]].assign(id=rows["id"].max() + 1, region="atlantis")
    csv.unlink()  # DVC may link the file into its cache: write a new one, never through the link
    pd.concat([rows, bad]).to_csv(csv, index=False)
    done = swap.run("make validate (bad row)", ["make", "validate"])
    output = done.stdout + done.stderr
    print(output[-2500:])
    assert done.returncode != 0
    assert "expect_column_values_to_be_in_set" in output, output[-4000:]
    assert re.search(r"\bregion\b.*atlantis", output), output[-4000:]


# ------------------------------------------------------------------------------------------ a template release
# v1.1.0 changes a machinery module, a reusable workflow, the Makefile and the template's requirements (a new pin:
# the lock changes); the copy had edited one template file (a docs page) on its main.
RELEASE_1_1 = {
    "src/mlci/files.py": (
        "\n# v1.1.0: where `make update-template` writes its report.\n",
        'TEMPLATE_REPORT = "build/template-update.md"\n',
    ),
    "Makefile": (
        "\n.PHONY: template-version\ntemplate-version: ## Print the template release this copy is at\n",
        "\t@sed -n 's/^version = \"\\(.*\\)\"/\\1/p' template.toml\n",
    ),
    "requirements/template.in": ("# v1.1.0: TOML output for the release notes\n", "tomli-w==1.0.0\n"),
}
LOCAL_EDIT = ("docs/workflows.md", "\nOur team's runners: ask #ml-infra.\n")


def release_1_1(template: Path) -> None:
    for name, lines in RELEASE_1_1.items():
        with (template / name).open("a", encoding="utf-8") as file:
            file.write("".join(lines))
    code_yml = template / ".github/workflows/code.yml"
    text = code_yml.read_text()
    assert "timeout-minutes: 30" in text
    code_yml.write_text(text.replace("timeout-minutes: 30", "timeout-minutes: 35", 1))
    tag_release(template, "v1.1.0", "Release v1.1.0")


def yours_bytes(project: Path) -> dict[str, bytes]:
    """Every tracked file of the user's, by path."""
    manifest = load_manifest(project)
    return {path: (project / path).read_bytes() for path in tracked_files(project) if manifest.side(path) == "yours"}


@dataclass
class Update:
    """The swapped copy after `make update-template` to v1.1.0, on the branch template-sync, committed."""

    swap: Swap
    yours_before: dict[str, bytes]
    yours_after: dict[str, bytes]
    report: str


@pytest.fixture(scope="module")
def updated(swap: Swap) -> Update:
    swap.must("dvc checkout data (after the bad row)", "dvc checkout -q --force data.dvc")
    swap.must("merge my-data into main", f"{GIT} switch -q main && {GIT} merge -q --ff-only my-data")
    name, line = LOCAL_EDIT
    with (swap.project / name).open("a", encoding="utf-8") as file:
        file.write(line)
    swap.must("git commit (a local edit of a template file)", f"{GIT} commit -q -am 'Our runners in the docs'")
    release_1_1(swap.template)
    yours_before = yours_bytes(swap.project)
    swap.must("git switch -c template-sync", f"{GIT} switch -q -c template-sync")
    swap.must("make update-template", ["make", "update-template", f"TEMPLATE={swap.template}", "REF=v1.1.0"])
    yours_after = yours_bytes(swap.project)
    report = (swap.project / "build" / "template-update.md").read_text(encoding="utf-8")
    swap.must("git commit (the update)", f"{GIT} add -A && {GIT} commit -q -m 'Template v1.1.0'")
    return Update(swap, yours_before, yours_after, report)


def test_an_update_brings_the_release_and_keeps_every_file_of_yours(updated):
    project = updated.swap.project
    for name, lines in RELEASE_1_1.items():
        assert (project / name).read_text(encoding="utf-8").endswith("".join(lines)), name
    assert "timeout-minutes: 35" in (project / ".github/workflows/code.yml").read_text()
    assert updated.swap.must("make template-version", ["make", "template-version"]).stdout.strip() == "v1.1.0"
    # Your files are byte for byte as they were, but the lock `make lock` rebuilt with the template's new pin.
    changed = sorted(p for p in updated.yours_before if updated.yours_before[p] != updated.yours_after.get(p))
    assert changed == ["requirements.txt"]
    lock_diff = updated.swap.must("git diff the lock", ["git", "diff", "-U0", "main", "--", "requirements.txt"]).stdout
    assert [line for line in lock_diff.splitlines() if re.match(r"^[-+][a-z]", line)] == ["+tomli-w==1.0.0 \\"]
    updated.swap.must("import tomli_w", [str(updated.swap.venv / "bin" / "python"), "-c", "import tomli_w"])


def test_an_update_names_the_template_file_you_edited_and_keeps_your_edit(updated):
    name, line = LOCAL_EDIT
    assert (updated.swap.project / name).read_text(encoding="utf-8").endswith(line)
    assert f"- `{name}`: changed by you, not by the release: kept as you have it" in updated.report
    assert updated.report.startswith("# Template update: v1.0.0 → v1.1.0\n")


def test_a_second_update_is_a_no_op(updated):
    swap = updated.swap
    swap.must("make update-template (again)", ["make", "update-template", f"TEMPLATE={swap.template}", "REF=v1.1.0"])
    assert swap.must("git status", ["git", "status", "--porcelain"]).stdout == ""
    report = (swap.project / "build" / "template-update.md").read_text(encoding="utf-8")
    assert "This copy is current: every template file is as v1.1.0 has it, but for your changes below." in report
    assert f"- `{LOCAL_EDIT[0]}`: changed by you, not by the release: kept as you have it" in report


def test_the_updated_copy_passes_make_lint(updated):
    done = updated.swap.run("make lint (updated)", ["make", "lint"])
    assert done.returncode == 0, done.stdout.split("All changes made by hooks:")[0][-4000:] + done.stderr[-4000:]


def test_the_updated_copy_runs_the_machinerys_full_tests_and_passes(updated):
    done = updated.swap.run(
        "make test (updated: full scope)", ["make", "test", "PYTEST_WORKERS=0", "PYTEST_ARGS=-p no:cacheprovider"]
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert "test scope: full (template files or locks changed since main:" in done.stderr
    assert "--cov=mlci" in done.stdout


def test_the_updated_copy_reproduces_its_pipeline(updated):
    updated.swap.must("make repro (updated)", ["make", "repro"])


def test_the_pull_request_workflow_passes_under_act(updated, tmp_path):
    swap = updated.swap
    code_job = quick_code_job(f"tests/{PACKAGE}/test_behaviour.py")
    started = time.perf_counter()
    run = run_act(ActSettings(swap.project, tmp_path / "act-work", venv=swap.venv, env=code_job))
    swap.seconds["act (pull_request)"] = round(time.perf_counter() - started, 1)
    tail = run.tail(80)
    assert run.returncode == 0, tail
    results = run.job_results()
    assert sorted(results.values()) == ["succeeded"] * len(PR_JOBS), results
    assert re.search(r"All \d+ expectations passed on 600 rows of `data/loans\.csv`", run.summary("validate"))
    assert "Running stage 'train'" in run.log
    # main holds the swapped model now (merged before the update): the same task, so the gate passes against it.
    assert run.summary("gate").startswith("## Quality gate: ✅ passed") and run.summary("report")


def test_print_the_timings(swap):
    print("\n[swap] timings: " + ", ".join(f"{name} {seconds} s" for name, seconds in swap.seconds.items()))
    print(textwrap.indent("\n".join(HAND_EDITED), "[swap] hand-edited: "))
