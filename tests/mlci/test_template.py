"""The fence (template.toml) on a small synthetic template and its copy: the check, updates from releases, the
test scope. Real git repositories in tmp_path; nothing of the project beside the machinery."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.template.check import fence_problems
from mlci.template.manifest import load_manifest, pattern_regex
from mlci.template.scope import decide_scope
from mlci.template.update import TemplateUpdateError, render_report, update_template

IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
MANIFEST = """\
source = ""
version = "{version}"
template = ["machinery/", "Makefile", "template.toml", ".github/workflows/code.yml"]
yours = ["src/{{package}}/", "pyproject.toml", "README.md", ".github/workflows/ci.yml"]
"""
RELEASE_1 = {
    "template.toml": MANIFEST.format(version="v1.0.0"),
    "pyproject.toml": '[project]\nname = "refproj"\n',
    "Makefile": "test:\n\tpytest\n",
    "machinery/core.py": "ONE = 1\n\n\ndef two():\n    return 2\n\n\n\n\ndef three():\n    return 3\n",
    "machinery/old.py": "OLD = True\n",
    ".github/workflows/code.yml": "name: code\n",
    ".github/workflows/ci.yml": "name: ci\n",
    "README.md": "# the reference project\n",
    "src/refproj/__init__.py": "",
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *IDENTITY, *args], cwd=root, check=True, capture_output=True, text=True).stdout


def commit(root: Path, files: dict[str, str | None], message: str, tag: str | None = None) -> None:
    for name, text in files.items():
        path = root / name
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    if tag:
        git(root, "tag", tag)


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """The template's repository with release v1.0.0."""
    root = tmp_path / "template"
    root.mkdir()
    git(root, "init", "-q", "--initial-branch=main")
    commit(root, RELEASE_1, "v1.0.0", tag="v1.0.0")
    return root


def make_copy(template: Path, destination: Path) -> Path:
    """What "Use this template" makes: the files of the newest commit, one commit, no history; renamed to `mine`."""
    destination.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=template, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(destination)], input=archive, check=True)
    (destination / "src" / "refproj").rename(destination / "src" / "mine")
    (destination / "pyproject.toml").write_text('[project]\nname = "mine"\n')
    (destination / "README.md").write_text("# my project\n")
    git(destination, "init", "-q", "--initial-branch=main")
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "initial")
    return destination


@pytest.fixture
def copy(template: Path, tmp_path: Path) -> Path:
    return make_copy(template, tmp_path / "copy")


def release_1_1(template: Path) -> None:
    commit(
        template,
        {
            "template.toml": MANIFEST.format(version="v1.1.0"),
            "Makefile": "test:\n\tpytest -q\n",
            "machinery/core.py": RELEASE_1["machinery/core.py"].replace("return 3", "return 3  # three"),
            "machinery/new.py": "NEW = True\n",
            "machinery/old.py": None,
            "README.md": "# the reference project, v1.1\n",
        },
        "v1.1.0",
        tag="v1.1.0",
    )


def user_files(root: Path) -> dict[str, bytes]:
    manifest = load_manifest(root)
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.parts and manifest.side(str(path.relative_to(root))) == "yours"
    }


def test_an_update_brings_every_template_change_and_leaves_your_files_as_they_were(template: Path, copy: Path):
    release_1_1(template)
    yours = user_files(copy)
    result = update_template(copy, str(template))
    assert result.outcomes == {
        "Makefile": "updated",
        "machinery/core.py": "updated",
        "machinery/new.py": "added",
        "machinery/old.py": "removed",
        "template.toml": "updated",
    }
    assert (copy / "machinery" / "new.py").read_text() == "NEW = True\n"
    assert not (copy / "machinery" / "old.py").exists()
    assert load_manifest(copy).version == "v1.1.0"
    assert user_files(copy) == yours  # README.md changed in the release, but it is the user's


def test_a_second_update_is_a_no_op(template: Path, copy: Path):
    release_1_1(template)
    update_template(copy, str(template))
    git(copy, "add", "-A")
    git(copy, "commit", "-q", "-m", "update")
    again = update_template(copy, str(template))
    assert again.outcomes == {}
    assert git(copy, "status", "--porcelain") == ""
    assert render_report(again).splitlines()[:3] == [
        "# Template update: v1.1.0 → v1.1.0",
        "",
        "This copy is current: every template file is as v1.1.0 has it.",
    ]


def test_an_edit_of_a_file_the_release_did_not_change_is_kept(template: Path, copy: Path):
    (copy / ".github" / "workflows" / "code.yml").write_text("name: my code\n")
    release_1_1(template)
    result = update_template(copy, str(template))
    assert result.outcomes[".github/workflows/code.yml"] == "kept"
    assert (copy / ".github" / "workflows" / "code.yml").read_text() == "name: my code\n"
    assert "- `.github/workflows/code.yml`: changed by you, not by the release: kept as you have it" in (
        render_report(result)
    )


def test_an_edit_the_release_does_not_touch_is_merged_in(template: Path, copy: Path):
    core = copy / "machinery" / "core.py"
    core.write_text(core.read_text().replace("ONE = 1", "ONE = 1  # mine"))
    release_1_1(template)
    result = update_template(copy, str(template))
    assert result.outcomes["machinery/core.py"] == "merged"
    assert "ONE = 1  # mine" in core.read_text() and "return 3  # three" in core.read_text()


def test_a_conflicting_edit_is_named_and_kept_as_a_diff_beside_the_release_file(template: Path, copy: Path):
    (copy / "Makefile").write_text("test:\n\tpytest -x\n")
    release_1_1(template)
    result = update_template(copy, str(template))
    assert result.outcomes["Makefile"] == "conflict"
    assert (copy / "Makefile").read_text() == "test:\n\tpytest -q\n"
    assert (copy / "Makefile.rej").read_text().splitlines()[-2:] == ["-\tpytest", "+\tpytest -x"]
    assert (
        "- `Makefile`: changed in the release and by you, and the two conflict: the release's file is in place, your "
        "change is in Makefile.rej" in render_report(result)
    )


def test_a_path_the_release_takes_over_is_left_alone_when_it_is_yours(template: Path, copy: Path):
    manifest = MANIFEST.format(version="v1.1.0").replace('"Makefile",', '"Makefile", "README.md",')
    commit(
        template,
        {"template.toml": manifest.replace('"README.md", ".github/workflows/ci.yml"', '".github/workflows/ci.yml"')},
        "v1.1.0",
        tag="v1.1.0",
    )
    result = update_template(copy, str(template))
    assert result.outcomes["README.md"] == "yours"
    assert (copy / "README.md").read_text() == "# my project\n"


def test_an_update_without_a_source_says_what_to_pass(copy: Path):
    with pytest.raises(
        TemplateUpdateError, match=r"^template.toml names no template source: pass TEMPLATE=<git URL or path>$"
    ):
        update_template(copy)


def test_an_update_to_an_unknown_release_names_it(template: Path, copy: Path):
    with pytest.raises(TemplateUpdateError, match=rf"^{template} has no tag or branch 'v9.9.9'$"):
        update_template(copy, str(template), "v9.9.9")


def test_the_update_command_writes_the_report_and_exits_1_with_one_line_on_error(
    template: Path, copy: Path, capsys: pytest.CaptureFixture[str]
):
    release_1_1(template)
    report = copy / "build" / "update.md"
    assert main(["template", "update", "--root", str(copy), "--source", str(template), "--report", str(report)]) == 0
    assert report.read_text().startswith("# Template update: v1.0.0 → v1.1.0\n")
    assert main(["template", "update", "--root", str(copy), "--report", str(report)]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "ERROR mlci: template.toml names no template source: pass TEMPLATE=<git URL or path>"
    )


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("src/mlci/", "src/mlci/report/render.py", True),
        ("src/mlci/", "src/mlcix/a.py", False),
        ("requirements/torch-*.txt", "requirements/torch-cpu.txt", True),
        ("requirements/torch-*.txt", "requirements/sub/torch-cpu.txt", False),
        ("docs/**/*.md", "docs/a.md", True),
        ("Makefile", "sub/Makefile", False),
    ],
)
def test_patterns_read_a_star_within_a_folder_and_a_trailing_slash_as_the_whole_folder(pattern, path, matches):
    assert bool(pattern_regex(pattern).match(path)) is matches


def test_the_check_passes_on_a_copy_and_fails_on_a_root_file_without_a_side(copy: Path):
    assert fence_problems(copy) == []
    commit(copy, {"notes.txt": "mine\n"}, "notes")
    assert fence_problems(copy) == [
        "notes.txt: on neither side of the fence: add its pattern to pyproject.toml's [tool.mlci.template] yours "
        "(or stop tracking it)"
    ]
    commit(
        copy, {"pyproject.toml": '[project]\nname = "mine"\n\n[tool.mlci.template]\nyours = ["notes.txt"]\n'}, "side"
    )
    assert fence_problems(copy) == []


def test_the_check_names_a_template_file_that_names_the_project(copy: Path):
    commit(copy, {"machinery/new.py": "# runs mine\nfrom mine import x\n"}, "names it")
    assert fence_problems(copy) == [
        "machinery/new.py: a template file names the project (mine) on line 1, 2: read the name from pyproject.toml "
        "instead, or move what the user edits into a file of theirs"
    ]


def test_the_check_names_a_file_on_both_sides(copy: Path):
    commit(
        copy,
        {"template.toml": MANIFEST.format(version="v1.0.0").replace('"Makefile",', '"Makefile", "README.md",')},
        "both",
    )
    assert fence_problems(copy) == [
        "README.md: on both sides: a `template` and a `yours` pattern of template.toml match it"
    ]


def test_a_copy_runs_the_project_tests_unless_a_template_file_or_a_lock_changed(copy: Path, monkeypatch):
    monkeypatch.delenv("MLCI_TEST_SCOPE", raising=False)
    git(copy, "switch", "-q", "-c", "feature")
    (copy / "src" / "mine" / "model.py").write_text("MODEL = 1\n")
    assert decide_scope(copy, "main").scope == "project"
    (copy / "requirements.txt").write_text("torch==2.13.0\n")
    assert decide_scope(copy, "main").reason == "template files or locks changed since main: requirements.txt"
    (copy / "requirements.txt").unlink()
    commit(copy, {"machinery/core.py": "ONE = 2\n"}, "machinery")
    assert decide_scope(copy, "main").reason == "template files or locks changed since main: machinery/core.py"
    assert decide_scope(copy, "no-such-base").reason == "cannot compare with 'no-such-base' (no such commit here)"
    monkeypatch.setenv("MLCI_TEST_SCOPE", "project")
    assert decide_scope(copy, "main").scope == "project"


def test_the_report_quotes_the_release_notes_since_the_copys_version(template: Path, copy: Path):
    notes = "# Releases\n\n## v1.1.0\n\n- code.yml: lint first.\n\n## v1.0.0\n\n- The first.\n"
    manifest = MANIFEST.format(version="v1.1.0")
    commit(template, {"CHANGELOG.md": notes, "template.toml": manifest}, "v1.1.0", tag="v1.1.0")
    report = render_report(update_template(copy, str(template)))
    assert "## Release notes\n\n### v1.1.0\n\n- code.yml: lint first.\n" in report
    assert "v1.0.0\n\n- The first." not in report
