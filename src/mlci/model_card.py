"""The model card: one Markdown page per released model, rendered from the user's template and the pipeline's files.

The template (`templates/model_card.md.j2`, Jinja2) is the one file a user edits: intended use, limits, wording. What
fills it comes from files only: the bundle's metadata (version, commit, data version, params digest, metrics), the
data contract, params.yaml, the metrics files dvc.yaml lists (slices included) and the per-row predictions, from which
each headline metric gets a seeded bootstrap interval.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mlci.contract import load_contract
from mlci.errors import UserFacingError
from mlci.files import CONTRACT, PARAMS, PREDICTIONS

TEMPLATE = "templates/model_card.md.j2"
CONFIDENCE = 0.95


class ModelCardError(UserFacingError):
    """The template is missing or does not render."""


def card_context(root: Path, metadata: dict) -> dict:
    """Everything the template may use (see templates/model_card.md.j2 for the names)."""
    from mlci.dvcfiles import metrics_files
    from mlci.metrics_tables import read_json, read_predictions, slices_of
    from mlci.stats import bootstrap, sample_from_frame

    root = Path(root)
    contract = load_contract(root / CONTRACT)
    params_path = root / PARAMS
    params = yaml.safe_load(params_path.read_text(encoding="utf-8")) if params_path.is_file() else {}
    metrics_by_file = {path: read_json(root / path) for path in metrics_files(root)}
    predictions = read_predictions(root / PREDICTIONS, contract)
    intervals = {}
    if predictions is not None and len(predictions):
        labels = [str(c) for c in contract.target.classes] if contract.target.is_classification else None
        sample = sample_from_frame(predictions, contract.target.task, labels)
        intervals = {name: interval.to_dict() for name, interval in bootstrap(sample, confidence=CONFIDENCE).items()}
    return {
        "metadata": metadata,
        "version": metadata.get("version") or "unversioned",
        "contract": contract,
        "params": params,
        "params_yaml": yaml.safe_dump(params, sort_keys=False).strip(),
        "metrics": metadata.get("metrics") or {},
        "intervals": intervals,
        "confidence": CONFIDENCE,
        "test_rows": 0 if predictions is None else len(predictions),
        "slices": slices_of(metrics_by_file),
    }


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
