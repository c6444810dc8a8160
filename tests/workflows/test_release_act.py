"""The release (release.yml, on a `v*` tag) and the promotion (deploy.yml) under act, offline.

Each scenario works on a clone of one copy of the repository whose DVC remote holds the pipeline's outputs (trained
once per module, as a project's CI would have pushed them; a clone has no cache, so the release restores them through
`dvc pull`). The clone stands in for the repository on GitHub: its origin names it, its refs are the git-refs API.
tests/workflows/act/gh-release/ holds the stand-ins, first on PATH: `gh` (releases, deployments and git refs, kept in a
JSON file) and `docker` (the engine and the registry: a build records the image's context; `run` starts the real
server, `mlci serve --bundle <context>`, which the workflow's own smoke test then checks; a push stores a digest).
Scenarios: a tag releases, pushes and promotes to staging, then a manual run promotes to production; a serving bug
(the features reach the model in reverse order) fails the smoke test and nothing is published; a tag that is not a
version stops at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from act_harness import (
    ACT_DIR,
    REPO_ROOT,
    ActRun,
    ActSettings,
    copy_working_tree,
    find_remote_actions,
    free_loopback_port,
    run_act,
)

from mlci.dvcfiles import metrics_files
from mlci.serving.verify import signed_manifest, verify_archive

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("ACT")), reason="already inside an act run: no act within act"),
]

STAND_INS = ACT_DIR / "gh-release"
# act copies the working tree only for a checkout without `ref`; deploy.yml's names the version (see its README)
CHECKOUT_OF_A_REF = STAND_INS / "actions__checkout"
BIN = Path(sys.executable).parent
RELEASE = ".github/workflows/release.yml"
DEPLOY = ".github/workflows/deploy.yml"
# Mixed case on purpose: image names and GTO model names must be lower case.
REPOSITORY = {
    "name": "ML-Template",
    "full_name": "Local-Org/ML-Template",
    "owner": {"login": "Local-Org"},
    "fork": False,
}
IMAGE = "ghcr.io/local-org/ml-template/serve"
MODEL = "ml-template"
IDENTITY = ["-c", "user.name=release test", "-c", "user.email=release@example.invalid", "-c", "commit.gpgsign=false"]
JOB_MODEL = "/model of the tagged commit"
JOB_SIGN = "/signed, verified and attested release assets"
JOB_IMAGE = "/serving image (smoke-tested, then pushed)"
JOB_PUBLISH = "/GitHub Release"
# Appended to the clone's src/mlci/serve.py: the server's row check now hands the model its features in reverse order
# (a training/serving skew). serve.py is no dependency of the pipeline's stages, so the release restores the same
# model and only the smoke test can notice.
SERVING_BUG = """

_checked_rows = check_rows


def check_rows(contract, rows, max_rows=DEFAULT_MAX_ROWS):
    frame, ids = _checked_rows(contract, rows, max_rows)
    return frame.iloc[:, ::-1].set_axis(frame.columns, axis=1), ids
"""


# The environment's secret: NAME=value lines (a comment and a blank line allowed); the hook gets each as a variable.
DEPLOY_SECRETS = "# the platform's\nPLATFORM_TOKEN=tok-7f3a9c\n\nPLATFORM_REGION=west-9\n"
HOOK_REPORTS_CREDENTIALS = """
echo "hook credentials: PLATFORM_TOKEN ${#PLATFORM_TOKEN} chars, PLATFORM_REGION ${#PLATFORM_REGION} chars"
"""
HOOK_SAW = "hook credentials: PLATFORM_TOKEN 10 chars, PLATFORM_REGION 6 chars"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def project_env(repo: Path) -> dict[str, str]:
    """The venv's tools with the copy's own code (the venv's editable install points at this checkout)."""
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(repo / "src"),
        "DVC_NO_ANALYTICS": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }


def dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(BIN / "dvc"), *args], cwd=repo, env=project_env(repo), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 or not check, f"dvc {' '.join(args)}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done


@dataclass(frozen=True)
class Step:
    """One act run, and the pretend GitHub, engine and registry right after it."""

    run: ActRun
    github: dict
    engine: dict
    registry: dict
    gh_calls: list[str]
    docker_calls: list[str]

    def result(self, job_suffix: str) -> str | None:
        results = self.run.job_results().items()
        found = [result for name, result in results if name.rstrip().endswith(job_suffix)]  # act pads some names
        assert len(found) <= 1, self.run.job_results()
        return found[0] if found else None

    def tail(self) -> str:
        return self.run.tail(80)


class Scenario:
    """A clone of the seeded copy (the repository on GitHub), with one store per stand-in, run with act."""

    def __init__(self, root: Path, seeded: Path):
        self.root = root
        self.repo = root / "repo"
        git(root, "clone", "--quiet", str(seeded), str(self.repo))
        git(self.repo, "remote", "set-url", "origin", f"https://github.com/{REPOSITORY['full_name']}.git")
        self.github, self.engine, self.registry = root / "github.json", root / "engine.json", root / "registry.json"
        self.gh_log, self.docker_log = root / "gh.log", root / "docker.log"
        self.runs = 0

    def commit(self, message: str) -> None:
        git(self.repo, "commit", "--quiet", "--all", f"--message={message}")

    def tag(self, name: str) -> str:
        """An annotated tag on HEAD; returns the commit's sha."""
        git(self.repo, "tag", "--annotate", f"--message=release {name}", name)
        return git(self.repo, "rev-parse", "HEAD")

    def run(self, workflow: str, event_name: str, event: dict, secrets: dict[str, str] | None = None) -> Step:
        self.runs += 1
        event_path = self.root / f"event-{self.runs}.json"
        event_path.write_text(json.dumps({**event, "repository": REPOSITORY}), encoding="utf-8")
        for log in (self.gh_log, self.docker_log):
            log.write_text("")
        settings = ActSettings(
            self.repo,
            self.root / f"act-work-{self.runs}",
            event=event_name,
            workflow=workflow,
            env={
                "PATH": f"{STAND_INS}:{os.environ['PATH']}",
                "FAKE_GH_STORE": str(self.github),
                "FAKE_GH_LOG": str(self.gh_log),
                "FAKE_GH_GIT_DIR": str(self.repo),
                "FAKE_GH_REPOSITORY": REPOSITORY["full_name"],
                "FAKE_DOCKER_STATE": str(self.engine),
                "FAKE_DOCKER_REGISTRY": str(self.registry),
                "FAKE_DOCKER_LOG": str(self.docker_log),
                "PORT": str(free_loopback_port()),  # the smoke test's port (the Makefile's PORT), never a busy one
            },
            # the last --eventpath, --secret and --local-repository win over the harness's own
            extra_args=[
                *("--eventpath", str(event_path), "--secret", "GITHUB_TOKEN=act-fake-token"),
                *[flag for name, value in (secrets or {}).items() for flag in ("--secret", f"{name}={value}")],
                *checkout_of_a_ref(self.repo, workflow),
            ],
        )
        try:
            run = run_act(settings)
        finally:
            self.stop_leftover_servers()
        return Step(
            run,
            self._read(self.github, {"releases": [], "deployments": []}),
            self._read(self.engine, {"images": {}, "containers": {}, "logins": {}}),
            self._read(self.registry, {"tags": {}}),
            self.gh_log.read_text().splitlines(),
            self.docker_log.read_text().splitlines(),
        )

    def stop_leftover_servers(self) -> None:
        """A server the docker stand-in started and no `docker rm` stopped (the test then fails on `containers`)."""
        for container in self._read(self.engine, {"containers": {}})["containers"].values():
            try:
                os.killpg(container["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass

    @staticmethod
    def _read(path: Path, empty: dict) -> dict:
        return {**empty, **json.loads(path.read_text(encoding="utf-8"))} if path.is_file() else empty


def checkout_of_a_ref(repo: Path, workflow: str) -> list[str]:
    """Map actions/checkout, at the ref the workflows pin, to the stand-in that checks out a `ref`."""
    pinned = [action.ref for action in find_remote_actions(repo, workflow) if action.repo == "actions/checkout"]
    return [flag for ref in pinned for flag in ("--local-repository", f"actions/checkout@{ref}={CHECKOUT_OF_A_REF}")]


def push_event(tag: str, sha: str) -> dict:
    return {"ref": f"refs/tags/{tag}", "before": "0" * 40, "after": sha, "created": True, "deleted": False}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy whose DVC remote (dvc-store, committed) holds every output of dvc.lock, left as a fresh clone has it.
    The outputs come from this checkout's DVC cache when `make repro` filled it, else from one `dvc repro` here; its
    dvc.lock is committed with them, as a project's CI would (the model folder's run record differs from run to run)."""
    repo = copy_working_tree(tmp_path_factory.mktemp("seeded") / "repo")
    local_cache = REPO_ROOT / ".dvc" / "cache"
    restored = False
    if local_cache.is_dir():
        dvc(repo, "remote", "add", "--local", "seed", str(local_cache))
        restored = dvc(repo, "pull", "--quiet", "--remote", "seed", check=False).returncode == 0
    if not restored:
        dvc(repo, "pull", "--quiet", "data.dvc")
        dvc(repo, "repro", "--quiet")
    dvc(repo, "push", "--quiet")
    changed = {line[3:] for line in git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()}
    unexpected = sorted(path for path in changed if path != "dvc.lock" and not path.startswith("dvc-store/"))
    assert not unexpected, f"reproducing the pipeline changed {unexpected}: a release would refuse this model"
    if changed:  # the committed store may hold every output already (it does, so a fresh clone's `dvc pull` works)
        git(repo, "add", "dvc.lock", "dvc-store")
        git(repo, "commit", "--quiet", "--message=the pipeline's outputs in the DVC remote")
    git(repo, "clean", "-fdxq")  # no cache, no outputs, no local remote: what a clone holds
    return repo


@pytest.fixture(scope="module")
def released(seeded: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, str, Step, Step]:
    """Tag v0.1.0 (release.yml: release, image, staging), then deploy.yml by hand to production; the deploy hook
    reports the platform credentials DEPLOY_SECRETS gives it (act has no environments: the secret is the run's)."""
    scenario = Scenario(tmp_path_factory.mktemp("released"), seeded)
    with (scenario.repo / "scripts" / "deploy.sh").open("a", encoding="utf-8") as hook:
        hook.write(HOOK_REPORTS_CREDENTIALS)
    scenario.commit("deploy hook: report the credentials it got")
    sha = scenario.tag("v0.1.0")
    release = scenario.run(RELEASE, "push", push_event("v0.1.0", sha), secrets={"DEPLOY_SECRETS": DEPLOY_SECRETS})
    production = scenario.run(
        DEPLOY,
        "workflow_dispatch",
        {"ref": "refs/heads/act-local", "inputs": {"version": "v0.1.0", "environment": "production"}},
        secrets={"DEPLOY_SECRETS": DEPLOY_SECRETS},
    )
    return scenario, sha, release, production


@pytest.fixture(scope="module")
def smoke_failed(seeded: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Step]:
    """A commit that breaks the server (not the model), tagged v0.2.0."""
    scenario = Scenario(tmp_path_factory.mktemp("smoke-failed"), seeded)
    serve = scenario.repo / "src" / "mlci" / "serve.py"
    assert "\ndef check_rows(contract" in serve.read_text(encoding="utf-8"), "serve.py changed: update SERVING_BUG"
    with serve.open("a", encoding="utf-8") as handle:
        handle.write(SERVING_BUG)
    scenario.commit("serve: the features in reverse order")
    sha = scenario.tag("v0.2.0")
    return scenario, scenario.run(RELEASE, "push", push_event("v0.2.0", sha))


# ------------------------------------------------------------------------------------------------------- release
def test_a_version_tag_runs_every_release_job_and_promotes_to_staging(released) -> None:
    _, _, release, _ = released
    assert release.run.returncode == 0, release.tail()
    results = release.run.job_results()
    assert set(results.values()) == {"succeeded"}, results
    for job in (JOB_MODEL, JOB_SIGN, JOB_IMAGE, JOB_PUBLISH, "/v0.1.0 to staging"):
        assert release.result(job) == "succeeded", results
    assert "smoke test passed" in release.run.log, release.tail()


def test_the_release_holds_the_assets_and_their_sums(released) -> None:
    scenario, sha, release, _ = released
    (published,) = release.github["releases"]
    assert (published["tag_name"], published["name"]) == ("v0.1.0", "v0.1.0")
    assets = {asset["name"]: Path(asset["path"]) for asset in published["assets"]}
    metrics = {
        f"metrics-{path.removesuffix('.json').replace('/', '-')}.json": path for path in metrics_files(scenario.repo)
    }
    assert set(assets) == {
        "MODEL_CARD.md",
        "model-v0.1.0.tar.gz",
        "model-v0.1.0.sig",
        "metadata.json",
        "sbom-environment.cdx.json",
        "SHA256SUMS",
        *metrics,
    }
    sums = {name: digest for digest, name in (line.split() for line in assets["SHA256SUMS"].read_text().splitlines())}
    assert set(sums) == set(assets) - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert sha256(assets[name]) == digest, name
    for name, committed in metrics.items():
        assert json.loads(assets[name].read_text()) == json.loads((scenario.repo / committed).read_text()), name
    metadata = json.loads(assets["metadata.json"].read_text())
    assert (metadata["version"], metadata["commit"]) == ("v0.1.0", sha)
    with tarfile.open(assets["model-v0.1.0.tar.gz"]) as archive:
        names = archive.getnames()
    assert "./metadata.json" in names and any(name.startswith("./model/") for name in names), names


def step_succeeded(step: Step, name: str) -> bool:
    return re.search(rf"Success - Main {re.escape(name)}", step.run.log) is not None


def test_the_bundle_is_signed_then_verified_and_the_attestation_skipped_with_a_notice(released, tmp_path) -> None:
    _, _, release, _ = released
    for name in (
        "Sign the model bundle (model-signing; keyless, this workflow's identity)",
        "Verify the released archive as a user would",
        "Can this repository attest?",
        "Where the image's SBOM is taken",
    ):
        assert step_succeeded(release, name), name
    assert "act: no Sigstore here; the bundle is signed with a throwaway key pair" in release.run.log
    assert "signed build/serve with build/keys/signing-key.pem: build/serve/model.sig" in release.run.log
    assert re.search(
        r"model-v0\.1\.0\.tar\.gz: verified: \d+ files match the manifest signed by key sha256:", release.run.log
    )
    assert "skipped under act: GitHub's attestation API and Sigstore are not here" in release.run.log
    assert "skipped under act: syft is downloaded at run time and there is no image" in release.run.log
    for name in ("Attest the model archive's build provenance", "Attest the serving image's build provenance"):
        assert not step_succeeded(release, name), name
    assert "smoke test passed" in release.run.log  # the server verified the bundle's files before it served them

    (published,) = release.github["releases"]
    assets = {asset["name"]: Path(asset["path"]) for asset in published["assets"]}
    archive = assets["model-v0.1.0.tar.gz"]
    assert verify_archive(archive).files >= 3  # no key here: the files against the signed manifest
    with tarfile.open(archive) as tar:
        inside = tar.extractfile("./model.sig").read()
    assert assets["model-v0.1.0.sig"].read_bytes() == inside
    signed, _ = signed_manifest(assets["model-v0.1.0.sig"])
    assert "metadata.json" in signed and any(name.startswith("model/") for name in signed), signed


def test_the_environment_sbom_lists_the_locked_packages(released) -> None:
    _, _, release, _ = released
    (published,) = release.github["releases"]
    path = next(Path(a["path"]) for a in published["assets"] if a["name"] == "sbom-environment.cdx.json")
    sbom = json.loads(path.read_text())
    assert (sbom["bomFormat"], sbom["specVersion"]) == ("CycloneDX", "1.5")
    versions = {component["name"]: component["version"] for component in sbom["components"]}
    assert versions["torch"].startswith("2.") and "model-signing" in versions and "dvc" in versions


def test_the_release_notes_are_the_model_card_and_the_image_digest(released) -> None:
    _, _, release, _ = released
    (published,) = release.github["releases"]
    card = Path(next(a["path"] for a in published["assets"] if a["name"] == "MODEL_CARD.md")).read_text()
    digest = release.registry["tags"][f"{IMAGE}:v0.1.0"]
    _, front_matter, text = card.split("---\n", 2)  # the model-index a model hub reads; not the release's text
    assert yaml.safe_load(front_matter)["model-index"][0]["name"] == REPOSITORY["name"]
    assert published["body"].startswith(text)
    assert "mlci verify model-v0.1.0.tar.gz --repository Local-Org/ML-Template" in text
    assert f"## Serving image\n`{IMAGE}:v0.1.0` (`{digest}`)" in published["body"]


def test_the_smoke_tested_image_is_pushed_and_staging_points_at_it(released) -> None:
    _, _, release, _ = released
    digest = release.registry["tags"][f"{IMAGE}:v0.1.0"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert release.registry["tags"] == {f"{IMAGE}:v0.1.0": digest, f"{IMAGE}:staging": digest}
    serving = release.engine["images"][f"{IMAGE}:v0.1.0"]
    assert serving["bases"] == ["runtime:release"] and "runtime:release" in release.engine["images"]
    assert Path(serving["context"]).parts[-2:] == ("build", "serve")
    assert not release.engine["containers"], "the smoke test's server was not removed"
    assert not release.engine["logins"], "a job left a registry login behind"
    calls = [call.split()[0] for call in release.docker_calls]
    assert calls.index("run") < calls.index("push"), release.docker_calls


def test_staging_gets_a_deployment_and_a_gto_stage_tag_on_the_released_commit(released) -> None:
    scenario, sha, release, _ = released
    (deployment,) = release.github["deployments"]
    assert (deployment["environment"], deployment["ref"], deployment["sha"]) == ("staging", "v0.1.0", sha)
    assert deployment["production_environment"] is False
    assert [status["state"] for status in deployment["statuses"]] == ["in_progress", "success"]
    assert git(scenario.repo, "tag", "--list", "*#staging#*").splitlines() == [f"{MODEL}#staging#1"]


def test_the_release_and_staging_summaries(released) -> None:
    _, _, release, _ = released
    published = release.run.summary("publish")
    assert "## Released v0.1.0" in published, published
    digest = release.registry["tags"][f"{IMAGE}:v0.1.0"]
    assert f"Serving image: `{IMAGE}:v0.1.0` (`{digest}`)" in published
    (assets,) = [entry["assets"] for entry in release.github["releases"]]
    for asset in assets:
        if asset["name"] != "SHA256SUMS":
            assert f"| {asset['name']} | `{sha256(Path(asset['path']))}` |" in published, asset["name"]
    where = release.run.summary("promote")
    assert "## Model versions by environment" in where, where
    assert re.search(r"^\| staging \| v0\.1\.0 \| \d{4}-\d\d-\d\dT[\d:]+Z ?\|$", where, re.MULTILINE), where
    assert re.search(r"^\| production \| none \| \|$", where, re.MULTILINE), where
    assert "null" not in where, where


# ----------------------------------------------------------------------------------------------------- production
def test_the_staging_deploy_called_by_the_release_gets_the_platform_credentials(released) -> None:
    # release.yml passes `secrets: inherit`: without it the called deploy.yml sees DEPLOY_SECRETS empty
    _, _, release, _ = released
    assert HOOK_SAW in release.run.log, release.tail()
    assert "tok-7f3a9c" not in release.run.log and "west-9" not in release.run.log


def test_production_without_required_reviewers_is_named_in_the_run(released) -> None:
    _, _, _, production = released
    assert HOOK_SAW in production.run.log
    assert "repos/Local-Org/ML-Template/environments/production" in " ".join(production.gh_calls)
    assert (
        "::warning::environment production has no required reviewers: anyone with write access to the repository "
        'can deploy to it (docs/release.md, "Who can approve, by plan")'
    ) in production.run.log


def test_a_manual_promotion_to_production(released) -> None:
    scenario, sha, release, production = released
    assert production.run.returncode == 0, production.tail()
    assert "release view v0.1.0 --json tagName" in production.gh_calls
    staging, promoted = production.github["deployments"]
    assert (promoted["environment"], promoted["ref"], promoted["sha"]) == ("production", "v0.1.0", sha)
    assert promoted["production_environment"] is True
    assert [status["state"] for status in promoted["statuses"]] == ["in_progress", "success"]
    assert staging == release.github["deployments"][0]
    digest = release.registry["tags"][f"{IMAGE}:v0.1.0"]
    assert production.registry["tags"] == {f"{IMAGE}:{tag}": digest for tag in ("v0.1.0", "staging", "production")}
    assert git(scenario.repo, "tag", "--list", f"{MODEL}#*").splitlines() == [
        f"{MODEL}#production#1",
        f"{MODEL}#staging#1",
    ]
    assert git(scenario.repo, "rev-parse", f"{MODEL}#production#1^{{commit}}") == sha
    where = production.run.summary("promote")
    for environment in ("staging", "production"):
        assert re.search(rf"^\| {environment} \| v0\.1\.0 \| \S+ ?\|$", where, re.MULTILINE), where


# ------------------------------------------------------------------------------------------------------- failures
def test_a_failed_smoke_test_stops_the_release(smoke_failed) -> None:
    scenario, step = smoke_failed
    assert step.run.returncode != 0
    assert step.result(JOB_MODEL) == "succeeded", step.tail()
    assert step.result(JOB_SIGN) == "succeeded", step.tail()
    assert step.result(JOB_IMAGE) == "failed", step.tail()
    assert step.result(JOB_PUBLISH) is None, step.run.job_results()
    assert re.search(r"\d+ of \d+ predictions differ from reports/predictions\.csv", step.run.log), step.tail()
    assert "Uvicorn running on http://127.0.0.1:" in step.run.log, "the server's log (docker logs) was not shown"
    assert not [call for call in step.docker_calls if call.startswith(("push", "buildx"))], step.docker_calls
    assert step.registry["tags"] == {}
    assert step.gh_calls == [] and step.github == {"releases": [], "deployments": []}
    assert git(scenario.repo, "tag", "--list", f"{MODEL}#*") == ""
    assert not step.engine["containers"], "the failed smoke test's server was not removed"


def test_a_tag_that_is_not_a_version_stops_the_model_job(smoke_failed) -> None:
    scenario, _ = smoke_failed
    sha = scenario.tag("v1.2")
    step = scenario.run(RELEASE, "push", push_event("v1.2", sha))
    assert step.result(JOB_MODEL) == "failed", step.tail()
    assert "::error::tag v1.2 is not a version (vMAJOR.MINOR.PATCH)" in step.run.log, step.tail()
    assert step.result(JOB_SIGN) is None and step.result(JOB_IMAGE) is None
    assert step.docker_calls == [] and step.gh_calls == []
