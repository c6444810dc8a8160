"""Synthetic data for the machinery's tests: contracts, frames drawn from them, and a tiny project's pipeline outputs.

Nothing here knows the reference project: a user's swap of it leaves these tests passing unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mlci.contract import DataContract, contract_from_dict
from mlci.files import TRAIN_RUN, TRAIN_RUN_LOCAL
from mlci.serving.bundle import model_files

CLASSES = ["cat", "dog", "eel"]
COLOURS = ["red", "green", "blue"]


def contract_dict(
    numeric: int = 4,
    categories: int = 1,
    text: int = 0,
    task: str = "classification",
    classes: list | None = None,
    target: str = "kind",
    path: str = "data/table.csv",
) -> dict:
    """A contract mapping: `numeric` float features x0.., `categories` colour features c0.., `text` notes t0.."""
    features: dict = {f"x{i}": {"type": "float", "nullable": True} for i in range(numeric)}
    features.update(
        {f"c{i}": {"type": "category", "values": list(COLOURS), "nullable": True} for i in range(categories)}
    )
    features.update({f"t{i}": {"type": "text"} for i in range(text)})
    spec: dict = {"name": target, "task": task}
    if task == "classification":
        spec["classes"] = list(classes or CLASSES)
    return {"path": path, "id": "id", "target": spec, "features": features}


def make_contract(**kwargs) -> DataContract:
    return contract_from_dict(contract_dict(**kwargs))


def make_frame(
    contract: DataContract,
    rows: int,
    seed: int,
    shift: float = 0.0,
    scale: float = 1.0,
    colour_weights: tuple[float, ...] | None = None,
    class_weights: tuple[float, ...] | None = None,
    target_shift: float = 0.0,
) -> pd.DataFrame:
    """Rows drawn from one fixed distribution; `shift`/`scale` move every numeric feature, the weights the mixes."""
    rng = np.random.default_rng(seed)
    data: dict = {"id": np.arange(rows)}
    for feature in contract.features:
        if feature.numeric:
            data[feature.name] = rng.normal(shift, scale, rows).round(4)
        elif feature.type == "category":
            data[feature.name] = rng.choice(list(feature.values), size=rows, p=colour_weights)
        else:
            data[feature.name] = ["note " + "x" * int(n) for n in rng.integers(1, 20, rows)]
    target = contract.target
    if target.is_classification:
        data[target.name] = rng.choice(list(target.classes), size=rows, p=class_weights)
    else:
        data[target.name] = (rng.normal(10.0 + target_shift, 2.0, rows)).round(4)
    return pd.DataFrame(data)


# ------------------------------------------------------------------------------------------------------- a project
DVC_YAML = """\
vars:
  - data.schema.yaml:path
stages:
  train:
    cmd: project train
    deps:
      - ${path}
    metrics:
      - runs/train/metrics.json:
          cache: false
    plots:
      - runs/train/loss.tsv:
          x: step
          y: loss
  evaluate:
    cmd: project evaluate
    deps:
      - ${path}
    outs:
      - reports/predictions.csv:
          cache: false
    metrics:
      - runs/evaluate/metrics.json:
          cache: false
"""


def write_json(path: Path, payload) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")


def classification_predictions(correct: float, rows: int = 60, seed: int = 0) -> pd.DataFrame:
    """Predictions over CLASSES: a share `correct` of the rows right, the rest the next class."""
    rng = np.random.default_rng(seed)
    target = np.array([CLASSES[i % len(CLASSES)] for i in range(rows)])
    right = rng.random(rows) < correct
    prediction = np.where(right, target, [CLASSES[(CLASSES.index(t) + 1) % len(CLASSES)] for t in target])
    frame = pd.DataFrame({"id": range(rows), "target": target, "prediction": prediction})
    for label in CLASSES:
        frame[f"proba_{label}"] = np.where(prediction == label, 0.8, 0.1)
    return frame


def write_project(
    root: Path,
    accuracy: float,
    epochs: int,
    contract: dict | None = None,
    predictions: pd.DataFrame | None = None,
) -> None:
    """A tiny project's committed files and pipeline outputs: dvc.yaml, contract, params, metrics, curves,
    predictions, validation summary, a model folder with its training record, and the untracked record of the run
    that trained it (wall time 1.5 s)."""
    contract = contract or contract_dict()
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data.schema.yaml").write_text(yaml.safe_dump(contract, sort_keys=False), encoding="utf-8")
    (root / "dvc.yaml").write_text(DVC_YAML, encoding="utf-8")
    (root / "params.yaml").write_text(f"train:\n  epochs: {epochs}\n  rate: 0.01\n", encoding="utf-8")
    write_json(root / "runs/train/metrics.json", {"train": {"loss": round(1 - accuracy, 4)}, "step": epochs})
    write_json(
        root / "runs/evaluate/metrics.json",
        {"accuracy": accuracy, "macro_f1": accuracy, "slices": {"small": {"accuracy": accuracy, "support": 5}}},
    )
    curve = "step\tloss\n" + "".join(f"{s}\t{1 / s:.3f}\n" for s in range(1, epochs + 1))
    (root / "runs/train/loss.tsv").write_text(curve, encoding="utf-8")
    if predictions is None:
        predictions = classification_predictions(accuracy)
    (root / "reports").mkdir(exist_ok=True)
    predictions.to_csv(root / "reports/predictions.csv", index=False)
    write_json(
        root / "reports/validation.json",
        {"success": True, "rows": 60, "evaluated": 5, "successful": 5, "failed": 0, "failed_expectations": []},
    )
    model_dir = (root / TRAIN_RUN).parent
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model.bin").write_bytes(f"weights for {epochs} epochs, accuracy {accuracy}".encode())
    write_json(root / TRAIN_RUN, {"device": "cpu", "precision": "fp32", "processes": 1, "epochs": epochs})
    write_json(
        root / TRAIN_RUN_LOCAL,
        {"wall_seconds": 1.5, "resumed_from_epoch": None, "model_files": model_files(model_dir)},
    )
