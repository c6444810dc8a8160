"""The machinery's smoke, on this repository's own files: what a copy's `make test` runs of the template's tests.

Seconds, not minutes: the fence holds, the contract builds the committed GX suite byte for byte, the data passes it,
and the pipeline's first stage is still the template's. The machinery's full tests (the rest of tests/mlci) run when
a template file or a lock changes (`mlci template test-scope`).
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest
import yaml

from mlci.contract import load_contract
from mlci.files import CONTRACT, DVC_YAML, GX_ROOT
from mlci.suite import create_gx_project
from mlci.template.check import fence_problems
from mlci.validation import validate_data

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_every_tracked_file_is_on_one_side_and_no_template_file_names_the_project():
    assert fence_problems(REPO_ROOT) == []


# GX's checks run untraced (no_cover): coverage's tracer slows every Python call, measured or not (on Python 3.11 it
# doubled these two tests), a copy measures only its own package, and the rest of tests/mlci measures the machinery's.
@pytest.mark.no_cover
def test_the_contract_builds_the_committed_gx_suite(tmp_path: Path):
    built = create_gx_project(load_contract(REPO_ROOT / CONTRACT), tmp_path)
    compared = filecmp.dircmp(built, REPO_ROOT / GX_ROOT, ignore=["uncommitted", "__pycache__"])
    differing = compared.diff_files + compared.left_only + compared.right_only
    for sub in compared.subdirs.values():
        differing += sub.diff_files + sub.left_only + sub.right_only
    assert differing == [], "gx/ is stale: run `make suite` and commit gx/"


@pytest.mark.no_cover
def test_the_data_passes_its_contract():
    contract = load_contract(REPO_ROOT / CONTRACT)
    if not (REPO_ROOT / contract.path).is_file():
        pytest.skip(f"{contract.path} is not here: `make data` pulls it")
    summary = validate_data(contract, data_path=REPO_ROOT / contract.path, gx_root=REPO_ROOT / GX_ROOT)
    assert summary.success, summary.to_dict()


def test_the_pipeline_starts_with_the_templates_validate_stage():
    stages = yaml.safe_load((REPO_ROOT / DVC_YAML).read_text(encoding="utf-8"))["stages"]
    assert next(iter(stages)) == "validate"
    assert stages["validate"]["cmd"].split()[:2] == ["mlci", "validate"]
