"""The serving bundle: the trained model folder, the data contract and the metadata `/metadata` answers, in one folder.

`mlci bundle` writes it from a workspace after `make repro`; the serving image copies it in, so the image answers the
same metadata without git or DVC. `make serve` skips the folder and reads the workspace directly.

    <bundle>/model/          the model folder the train stage writes (every file, as trained)
    <bundle>/schema.yaml     the data contract requests are checked against
    <bundle>/metadata.json   version, commit, data version, params digest, metrics, model file digests
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import yaml

from mlci.errors import UserFacingError
from mlci.files import CONTRACT, DATA_DVC, PARAMS, TRAIN_RUN

# The folder the train stage writes the model into (its run record lives there too).
MODEL_DIR = str(PurePosixPath(TRAIN_RUN).parent)
BUNDLE_MODEL = "model"
BUNDLE_CONTRACT = "schema.yaml"
BUNDLE_METADATA = "metadata.json"


class BundleError(UserFacingError):
    """The model or a file the bundle needs is missing."""


def git(root: Path, *args: str) -> str | None:
    """A git command's output in `root`, None where git or the repository is missing."""
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def params_digest(root: Path) -> str | None:
    """sha256 of params.yaml's content as canonical JSON: comments and key order do not change it, a value does."""
    path = root / PARAMS
    if not path.is_file():
        return None
    canonical = json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def data_version(root: Path) -> dict | None:
    """The tracked data's version: the DVC hash of each out in data.dvc and the commit that last changed it."""
    path = root / DATA_DVC
    if not path.is_file():
        return None
    outs = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("outs") or []
    return {
        "dvc": {str(out.get("path")): out.get("md5") for out in outs},
        "commit": git(root, "log", "-1", "--format=%H", "--", DATA_DVC),
    }


def model_version(root: Path) -> str | None:
    """The tag on this commit (v1.2.0), else `git describe`'s nearest tag plus distance and commit."""
    return git(root, "describe", "--tags", "--always", "--dirty", "--match", "v*")


def model_files(model_dir: Path) -> dict[str, str]:
    """sha256 of every file in the model folder (or of the one model file), by path inside it."""
    if model_dir.is_file():
        return {model_dir.name: sha256_of(model_dir)}
    return {p.relative_to(model_dir).as_posix(): sha256_of(p) for p in sorted(model_dir.rglob("*")) if p.is_file()}


def collect_metadata(root: Path, model_dir: Path, version: str | None = None) -> dict:
    """What `/metadata` answers and the model card shows, read from the workspace's files and git."""
    from mlci.dvcfiles import metrics_files
    from mlci.metrics_tables import read_json, scalar_metrics

    root = Path(root)
    model_dir = Path(model_dir)
    if not model_dir.exists():
        raise BundleError(f"{model_dir} not found: run `make repro` to build the model")
    metrics = {path: scalar_metrics(read_json(root / path)) for path in metrics_files(root) if (root / path).is_file()}
    return {
        "version": version or model_version(root),
        "commit": git(root, "rev-parse", "HEAD"),
        "data": data_version(root),
        "params_digest": params_digest(root),
        "metrics": metrics,
        "model_files": model_files(model_dir),
    }


def write_bundle(root: Path, out: Path, model_dir: Path | None = None, version: str | None = None) -> Path:
    """Copy the model folder and the contract into `out` (emptied first) and write metadata.json beside them."""
    root = Path(root)
    model_dir = Path(model_dir) if model_dir is not None else root / MODEL_DIR
    contract = root / CONTRACT
    if not contract.is_file():
        raise BundleError(f"{contract} not found: the server checks requests against the data contract")
    metadata = collect_metadata(root, model_dir, version)
    out = Path(out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if model_dir.is_dir():
        shutil.copytree(model_dir, out / BUNDLE_MODEL)
    else:
        (out / BUNDLE_MODEL).mkdir()
        shutil.copy2(model_dir, out / BUNDLE_MODEL / model_dir.name)
    shutil.copy2(contract, out / BUNDLE_CONTRACT)
    (out / BUNDLE_METADATA).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for path in (out, *out.rglob("*")):  # what the serving image copies: readable by all, writable by none but root
        path.chmod(0o755 if path.is_dir() else 0o644)
    return out


def read_bundle(folder: Path) -> tuple[Path, Path, dict]:
    """(model folder, contract, metadata) of a bundle written by `write_bundle`."""
    folder = Path(folder)
    paths = [folder / BUNDLE_MODEL, folder / BUNDLE_CONTRACT, folder / BUNDLE_METADATA]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise BundleError(f"{folder} is not a serving bundle (no {', '.join(missing)}): write one with `mlci bundle`")
    return paths[0], paths[1], json.loads(paths[2].read_text(encoding="utf-8"))
