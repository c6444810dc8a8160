"""The model card: one Markdown page per released model, rendered from the user's template and the pipeline's files.

The template (`templates/model_card.md.j2`, Jinja2) is the one file a user edits: intended use, limits, wording. What
fills it comes from files only: the bundle's metadata (version, commit, data version, params digest, metrics), the
data contract, params.yaml, the metrics files dvc.yaml lists (slices included) and the per-row predictions, from which
each headline metric gets the interval `make gate` computes (`mlci.gate.assess`, gates.yaml's confidence, resamples
and seed: the same numbers), and the gates' floors with their outcome. A `model-index` block (YAML front matter, as
a model hub reads it) carries the metrics, and the card says how to verify the release's signature.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from mlci.contract import load_contract
from mlci.errors import UserFacingError
from mlci.files import CONTRACT, PARAMS, PREDICTIONS

TEMPLATE = "templates/model_card.md.j2"
DVC_LOCK = "dvc.lock"  # the commit that last changed it recorded the trained model's outputs


class ModelCardError(UserFacingError):
    """The template is missing or does not render."""


def card_context(root: Path, metadata: dict) -> dict:
    """Everything the template may use (see templates/model_card.md.j2 for the names)."""
    from mlci.dvcfiles import metrics_files
    from mlci.gate import FLOOR, GATES, WORST_SLICE, assess, load_gates
    from mlci.metrics_tables import read_json, slices_of
    from mlci.serving.bundle import git

    root = Path(root)
    contract = load_contract(root / CONTRACT)
    params_path = root / PARAMS
    params = yaml.safe_load(params_path.read_text(encoding="utf-8")) if params_path.is_file() else {}
    metrics_by_file = {path: read_json(root / path) for path in metrics_files(root)}
    gates = load_gates(root / GATES)
    intervals, checks, test_rows = {}, [], 0
    if (root / PREDICTIONS).is_file():
        result = assess(root, None)  # `make gate`'s own computation, without the base: this model's intervals
        intervals = {m.name: m.pr.to_dict() for m in result.comparison.metrics}
        checks = [c.to_dict() for c in result.checks if c.kind in (FLOOR, WORST_SLICE)]
        test_rows = result.comparison.rows
    version = metadata.get("version") or "unversioned"
    repository = github_repository(root)
    return {
        "metadata": metadata,
        "version": version,
        "contract": contract,
        "params": params,
        "params_yaml": yaml.safe_dump(params, sort_keys=False).strip(),
        "metrics": metadata.get("metrics") or {},
        "intervals": intervals,
        "confidence": gates.confidence,
        "resamples": gates.resamples,
        "seed": gates.seed,
        "test_rows": test_rows,
        "slices": slices_of(metrics_by_file),
        "gate_checks": checks,
        "slice_floors": [str(bound) for bound in gates.worst_slice],
        "training_commit": git(root, "log", "-1", "--format=%H", "--", DVC_LOCK),
        "repository": repository,
        "verify_command": verify_command(version, repository),
        "model_index": model_index(model_name(root, repository), contract, intervals, gates.confidence),
    }


def github_repository(root: Path) -> str | None:
    """OWNER/REPO: GITHUB_REPOSITORY (in a workflow), else the `origin` remote when it is on GitHub, else None."""
    from mlci.serving.bundle import git

    if os.environ.get("GITHUB_REPOSITORY"):
        return os.environ["GITHUB_REPOSITORY"]
    origin = git(Path(root), "remote", "get-url", "origin") or ""
    match = re.search(r"github\.com[:/]([^/]+/[^/]+?)(?:\.git)?/?$", origin)
    return match[1] if match else None


def model_name(root: Path, repository: str | None) -> str:
    """The name a model hub lists: the repository's, else pyproject.toml's [project] name, else the folder's."""
    from mlci.template.manifest import ManifestError, project_names

    if repository:
        return repository.split("/")[-1]
    try:
        return project_names(Path(root)).distribution
    except ManifestError:
        return Path(root).resolve().name


def verify_command(version: str, repository: str | None) -> str:
    """The one command that checks a downloaded release: its archive against the release workflow's signature."""
    archive = f"model-{version}.tar.gz"
    if repository:
        return f"mlci verify {archive} --repository {repository}"
    return f"mlci verify {archive} --public-key signing-key.pub"


def model_index(name: str, contract, intervals: dict, confidence: float) -> str:
    """The card's `model-index` (YAML, the front matter a model hub reads): each test metric with its interval."""
    task = contract.target.task
    metrics = [
        {
            "type": metric,
            "value": round(interval["estimate"], 4),
            "name": f"{metric} ({confidence:.0%} interval {interval['low']:.4f}–{interval['high']:.4f})",
        }
        for metric, interval in intervals.items()
    ]
    entry = {
        "name": name,
        "results": [
            {
                "task": {"type": f"tabular-{task}", "name": f"tabular {task}"},
                "dataset": {"type": contract.path, "name": contract.path, "split": "test"},
                "metrics": metrics,
            }
        ],
    }
    return yaml.safe_dump({"model-index": [entry]}, sort_keys=False, allow_unicode=True)


def render_model_card(root: Path, metadata: dict, template: Path | None = None) -> str:
    import jinja2

    root = Path(root)
    template = Path(template) if template is not None else root / TEMPLATE
    if not template.is_file():
        raise ModelCardError(f"{template} not found: the model card's template (copy it from the template repository)")
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    try:
        return environment.from_string(template.read_text(encoding="utf-8")).render(**card_context(root, metadata))
    except jinja2.TemplateError as error:
        raise ModelCardError(f"{template}: {error}") from error


def write_model_card(
    root: Path, out: Path, template: Path | None = None, bundle: Path | None = None, version: str | None = None
) -> Path:
    """Render the card (metadata from `bundle`, else from the workspace) and write it to `out`."""
    from mlci.serving.bundle import MODEL_DIR, collect_metadata, read_bundle

    metadata = read_bundle(bundle)[2] if bundle is not None else collect_metadata(root, Path(root) / MODEL_DIR, version)
    if version:
        metadata = {**metadata, "version": version}
    text = render_model_card(root, metadata, template)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
