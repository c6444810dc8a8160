"""`mlci serve --bundle` verifies the bundle before it loads the model: it refuses a flipped byte, a removed file, an
added file, another key's signature and an unsigned bundle, each with one line naming what, and starts on the
untouched bundle; `--allow-unsigned` serves an unsigned one for local work; `/metadata` says what was verified."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlci import serve as serve_module
from mlci.cli import main
from mlci.contract import contract_from_dict, dump_contract
from mlci.serving.bundle import BUNDLE_CONTRACT, BUNDLE_METADATA, BUNDLE_MODEL
from mlci.serving.signing import SIGNATURE, generate_key_pair, key_fingerprint, sign_bundle

CONTRACT = contract_from_dict(
    {
        "path": "data/boxes.csv",
        "target": {"name": "kind", "task": "classification", "classes": ["small", "big"]},
        "features": {"width": {"type": "float", "min": 0, "max": 10}},
    }
)
PREDICTOR = '''
import pandas as pd


def load_predictor(model_dir, device):
    """big when width > 5; reads the model folder's one file, as a real predictor would."""
    (model_dir / "weights.bin").read_bytes()

    def predict(rows):
        return pd.DataFrame({"prediction": ["big" if w > 5 else "small" for w in rows["width"]]})

    predict.device = "cpu"
    return predict
'''
SPEC = "verified_project_serving:load_predictor"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("keys")
    return {name: generate_key_pair(folder, name) for name in ("release", "other")}


def write_bundle(folder: Path) -> Path:
    (folder / BUNDLE_MODEL).mkdir(parents=True)
    (folder / BUNDLE_MODEL / "weights.bin").write_bytes(b"\x00\x01\x02\x03")
    dump_contract(CONTRACT, folder / BUNDLE_CONTRACT)
    (folder / BUNDLE_METADATA).write_text('{"version": "v3.1.0", "commit": "abc"}\n', encoding="utf-8")
    return folder


@pytest.fixture
def bundle(tmp_path: Path, keys, monkeypatch) -> Path:
    """A signed bundle, the fake predictor importable, and `serve` replaced: the app is kept, not run."""
    (tmp_path / "verified_project_serving.py").write_text(PREDICTOR, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    folder = write_bundle(tmp_path / "bundle")
    sign_bundle(folder, keys["release"][0])
    return folder


@pytest.fixture
def started(monkeypatch) -> list:
    apps: list = []
    monkeypatch.setattr(serve_module, "serve", lambda app, host, port: apps.append(app))
    monkeypatch.delenv("MLCI_PUBLIC_KEY", raising=False)
    monkeypatch.delenv("MLCI_SIGNER_IDENTITY", raising=False)
    return apps


def serve(bundle: Path, *flags: str) -> int:
    return main(["serve", "--bundle", str(bundle), "--predictor", SPEC, *flags])


def refused(bundle: Path, capsys, *flags: str) -> str:
    """The one line `mlci serve` logs when it refuses (exit 1)."""
    capsys.readouterr()
    assert serve(bundle, *flags) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_the_untouched_bundle_starts_and_metadata_names_the_key_that_signed_it(bundle, keys, started) -> None:
    public = keys["release"][1]
    assert serve(bundle, "--public-key", str(public)) == 0
    (app,) = started
    metadata = TestClient(app).get("/metadata").json()
    assert metadata["version"] == "v3.1.0"
    assert metadata["verification"] == {
        "verified": True,
        "signature": "verified",
        "method": "key",
        "signed_by": f"key {key_fingerprint(public)}",
        "files_checked": 3,
    }
    assert TestClient(app).post("/predict", json={"rows": [{"width": 7.0}]}).json()["predictions"] == [
        {"prediction": "big"}
    ]


def test_the_key_may_come_from_the_environment_as_in_the_serving_image(bundle, keys, started, monkeypatch) -> None:
    monkeypatch.setenv("MLCI_PUBLIC_KEY", str(keys["release"][1]))
    assert serve(bundle) == 0
    assert TestClient(started[0]).get("/metadata").json()["verification"]["verified"] is True


def test_without_a_key_the_files_are_checked_and_metadata_says_the_signature_was_not(bundle, started) -> None:
    assert serve(bundle) == 0
    assert TestClient(started[0]).get("/metadata").json()["verification"] == {
        "verified": False,
        "signature": "not checked: no public key or signer identity",
        "method": None,
        "signed_by": None,
        "files_checked": 3,
    }


@pytest.mark.parametrize("name", [f"{BUNDLE_MODEL}/weights.bin", BUNDLE_CONTRACT, BUNDLE_METADATA])
def test_a_flipped_byte_in_any_file_is_refused_naming_the_file(bundle, keys, started, capsys, name) -> None:
    data = bytearray((bundle / name).read_bytes())
    data[0] ^= 0x01
    (bundle / name).write_bytes(bytes(data))
    line = refused(bundle, capsys, "--public-key", str(keys["release"][1]))
    assert line.startswith(f"ERROR mlci: refusing to serve {bundle}: {bundle}: {name} differs from the signed manifest")
    assert started == []


def test_a_removed_file_is_refused_naming_it(bundle, keys, started, capsys) -> None:
    (bundle / BUNDLE_MODEL / "weights.bin").unlink()
    assert refused(bundle, capsys, "--public-key", str(keys["release"][1])) == (
        f"ERROR mlci: refusing to serve {bundle}: {bundle}: model/weights.bin is signed but missing"
    )
    assert started == []


def test_an_added_file_is_refused_naming_it(bundle, keys, started, capsys) -> None:
    (bundle / BUNDLE_MODEL / "backdoor.pt").write_bytes(b"\x80")
    assert refused(bundle, capsys, "--allow-unsigned") == (
        f"ERROR mlci: refusing to serve {bundle}: {bundle}: model/backdoor.pt is not in the signed manifest "
        "(added after signing)"
    )
    assert started == []


def test_another_keys_signature_is_refused_naming_the_key(bundle, keys, started, capsys) -> None:
    public = keys["other"][1]
    assert refused(bundle, capsys, "--public-key", str(public)) == (
        f"ERROR mlci: refusing to serve {bundle}: {bundle / SIGNATURE}: signed by another key, not {public} "
        f"({key_fingerprint(public)})"
    )
    assert started == []


def test_an_unsigned_bundle_is_refused_unless_allowed_for_local_work(bundle, started, capsys) -> None:
    (bundle / SIGNATURE).unlink()
    assert refused(bundle, capsys) == (
        f"ERROR mlci: refusing to serve {bundle}: {bundle / SIGNATURE} not found: the bundle is unsigned (sign it with "
        f"`mlci sign {bundle}`); --allow-unsigned serves it for local work"
    )
    assert started == []
    assert serve(bundle, "--allow-unsigned") == 0
    assert TestClient(started[0]).get("/metadata").json()["verification"] == {
        "verified": False,
        "signature": "absent: an unsigned bundle, served because of --allow-unsigned",
        "method": None,
        "signed_by": None,
        "files_checked": 0,
    }


def test_the_server_process_refuses_before_it_loads_the_model(bundle, keys, tmp_path) -> None:
    (bundle / BUNDLE_MODEL / "weights.bin").write_bytes(b"changed")
    done = subprocess.run(
        [sys.executable, "-m", "mlci.cli", "serve", "--bundle", str(bundle), "--predictor", SPEC],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(
        f"ERROR mlci: refusing to serve {bundle}: {bundle}: model/weights.bin differs from the signed manifest"
    )
    assert "Uvicorn running" not in done.stderr
