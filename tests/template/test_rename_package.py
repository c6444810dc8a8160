"""scripts/rename_package.py on a small stand-in project: what it renames (only the files template.toml marks
yours), what it leaves alone, what it refuses; and on a copy of this repository renamed to the longest name it
takes, which must still pass the linters and leave every file of the template's byte for byte."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from project_copy import IDENTITY, PROJECT, copy_project

from mlci.template.manifest import load_manifest, tracked_files

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "rename_package.py"
# As long as the script allows, and sorted after `mlci`, so that imports move and lines grow.
LONGEST_NAME = "zeta_project_with_a_longest_name"
LINTED = ["src", "tests", "scripts", "benchmarks"]

_spec = importlib.util.spec_from_file_location("rename_package", SCRIPT)
rename_package = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("rename_package", rename_package)  # dataclasses look their module up there
_spec.loader.exec_module(rename_package)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    files = {
        "src/oldpkg/__init__.py": '"""oldpkg."""\n',
        "src/oldpkg/cli.py": "from oldpkg_extra import x  # another package\n\nfrom oldpkg.core import run\n",
        "src/mlci/__init__.py": '"""The machinery: reads the files oldpkg writes, never imports oldpkg."""\n',
        "tests/oldpkg/test_cli.py": "from oldpkg.cli import run\n",
        "pyproject.toml": '[project]\nname = "oldpkg"\n[project.scripts]\noldpkg = "oldpkg.cli:main"\n',
        "dvc.yaml": "stages:\n  train:\n    cmd: oldpkg train\n    deps: [src/oldpkg/cli.py]\n",
        "dvc-store/files/md5/ab/cdef": "oldpkg stays: content-hashed\n",
        "LICENSE": "Copyright (c) The oldpkg authors\n",
        "blob.bin": b"\xff\xfeoldpkg",
        # The fence: a template file (one that names the package, as `mlci template check` forbids, to show that
        # the rename leaves it alone all the same) and a file on neither side.
        "template.toml": 'template = ["src/mlci/", "Makefile", "template.toml"]\n'
        'yours = ["src/{package}/", "tests/{package}/", "pyproject.toml", "dvc.yaml", "dvc-store/", "LICENSE",'
        ' "blob.bin", "scripts/"]\n',
        "Makefile": "IMAGE ?= oldpkg:local\n",
        "notes.txt": "oldpkg, on neither side\n",
    }
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    return tmp_path


def test_rename_moves_the_package_and_rewrites_every_reference(project):
    result = rename_package.rename_package(project, "newpkg")
    assert (result.old, result.new) == ("oldpkg", "newpkg")
    assert not (project / "src/oldpkg").exists()
    assert (project / "src/newpkg/cli.py").read_text() == (
        "from oldpkg_extra import x  # another package\n\nfrom newpkg.core import run\n"
    )
    assert (project / "tests/newpkg/test_cli.py").read_text() == "from newpkg.cli import run\n"
    assert not (project / "tests/oldpkg").exists()
    assert (project / "pyproject.toml").read_text() == (
        '[project]\nname = "newpkg"\n[project.scripts]\nnewpkg = "newpkg.cli:main"\n'
    )
    assert "cmd: newpkg train" in (project / "dvc.yaml").read_text()
    assert "src/newpkg/cli.py" in (project / "dvc.yaml").read_text()
    assert sorted(result.rewritten) == [
        "dvc.yaml",
        "pyproject.toml",
        "src/newpkg/__init__.py",
        "src/newpkg/cli.py",
        "tests/newpkg/test_cli.py",
    ]
    staged = subprocess.run(["git", "diff", "--cached", "--name-status"], cwd=project, capture_output=True, text=True)
    assert "src/newpkg/cli.py" in staged.stdout  # moved with git mv, so history follows


def test_rename_leaves_the_dvc_store_the_license_binary_files_and_the_machinery_alone(project):
    rename_package.rename_package(project, "newpkg")
    assert (project / "src/mlci/__init__.py").read_text() == (
        '"""The machinery: reads the files oldpkg writes, never imports oldpkg."""\n'
    )
    assert (project / "dvc-store/files/md5/ab/cdef").read_text() == "oldpkg stays: content-hashed\n"
    assert (project / "LICENSE").read_text() == "Copyright (c) The oldpkg authors\n"
    assert (project / "blob.bin").read_bytes() == b"\xff\xfeoldpkg"


def test_rename_never_rewrites_a_template_file_even_one_that_names_the_package(project):
    rename_package.rename_package(project, "newpkg")
    assert (project / "Makefile").read_text() == "IMAGE ?= oldpkg:local\n"


def test_rename_lists_a_file_on_neither_side_that_names_the_package_and_leaves_it(project):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "newpkg", "--root", str(project)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "warning: 1 files name oldpkg but are on neither side of template.toml" in result.stdout
    assert "\n  notes.txt\n" in result.stdout
    assert (project / "notes.txt").read_text() == "oldpkg, on neither side\n"


def test_a_kebab_case_distribution_name_is_renamed_with_the_package(project):
    (project / "src/oldpkg").rename(project / "src/old_pkg")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "old-pkg"\n[project.scripts]\nold-pkg = "old_pkg.cli:main"\n'
    )
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    rename_package.rename_package(project, "new_pkg")
    assert (project / "pyproject.toml").read_text() == (
        '[project]\nname = "new-pkg"\n[project.scripts]\nnew-pkg = "new_pkg.cli:main"\n'
    )


def test_cli_refuses_a_package_that_pyproject_does_not_name(project):
    (project / "pyproject.toml").write_text('[project]\nname = "otherpkg"\n')
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "newpkg", "--root", str(project)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (
        2,
        "error: pyproject.toml names the package 'otherpkg' but src/ holds 'oldpkg': make them agree first "
        "([project] name, or [tool.mlci] package)\n",
    )
    assert (project / "src/oldpkg/cli.py").is_file()


def test_cli_refuses_a_project_without_template_toml_and_changes_nothing(project):
    (project / "template.toml").unlink()
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "newpkg", "--root", str(project)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {project / 'template.toml'} not found")
    assert result.stderr.endswith("(the rename rewrites only the files template.toml marks yours)\n")
    assert (project / "src/oldpkg/cli.py").is_file()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "My-Project",
            "'My-Project' is not a valid package name: use lowercase letters, digits and underscores, "
            "starting with a letter (e.g. my_project)",
        ),
        ("class", "'class' is a Python keyword: choose another name"),
        ("json", "'json' is a standard-library module: choose another name"),
        ("oldpkg", "the package is already named 'oldpkg'"),
        ("mlci", "'mlci' is the template's machinery package (src/mlci/): choose another name"),
        (
            "a" * 33,
            f"'{'a' * 33}' is 33 characters long: choose a name of at most 32 "
            "(comments and strings that name the package must still fit the line length)",
        ),
    ],
)
def test_cli_refuses_a_bad_name_with_the_reason_and_changes_nothing(project, name, message):
    status = ["git", "status", "--porcelain"]
    before = subprocess.run(status, cwd=project, capture_output=True, text=True, check=True).stdout
    result = subprocess.run(
        [sys.executable, str(SCRIPT), name, "--root", str(project)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (2, f"error: {message}\n")
    assert (project / "src/oldpkg/cli.py").is_file()
    assert subprocess.run(status, cwd=project, capture_output=True, text=True, check=True).stdout == before


def test_cli_refuses_a_name_that_is_already_installed(project):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "pytest", "--root", str(project)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: 'pytest' is already an importable module here (")
    assert result.stderr.endswith("): choose another name\n")


def test_cli_refuses_a_project_without_exactly_one_package_besides_the_machinery(tmp_path):
    (tmp_path / "src" / "mlci").mkdir(parents=True)
    (tmp_path / "src" / "mlci" / "__init__.py").touch()
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "newpkg", "--root", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (
        2,
        f"error: expected exactly one package under {tmp_path / 'src'} besides mlci, found none\n",
    )


def test_rewritten_python_files_are_re_sorted_shebang_scripts_too(project):
    (project / "scripts").mkdir()
    (project / "scripts/tool").write_text("#!/usr/bin/env python3\nimport mlci\nimport oldpkg\n")
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    result = rename_package.rename_package(project, "apkg")
    assert "scripts/tool" in result.rewritten
    assert (project / "scripts/tool").read_text() == "#!/usr/bin/env python3\nimport apkg\nimport mlci\n"


def test_lines_the_longer_name_pushes_past_the_line_length_are_listed(project):
    comment = "# " + "x" * 79 + " oldpkg\n"  # 88 characters: black's default line length, so it fits until renamed
    (project / "src/oldpkg/long.py").write_text(comment)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    result = rename_package.rename_package(project, "newpkg_x")
    assert result.formatted_by == sys.executable  # the project has no venv: this interpreter's isort and black
    assert result.long_lines == ("src/newpkg_x/long.py:1",)


def test_without_isort_and_black_the_rename_goes_ahead_and_says_to_run_make_format(project, tmp_path):
    bare = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    result = subprocess.run(
        [str(bare / "bin" / "python"), str(SCRIPT), "newpkg", "--root", str(project), "--venv", str(bare)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "not re-formatted: isort and black are not installed here (no venv yet)\n" in result.stdout
    assert result.stdout.endswith(
        "next: make install && make format && make test && make repro, then commit (git add -A)\n"
    )
    assert (project / "src/newpkg/cli.py").read_text() == (  # as rewritten: a bare venv has no isort to sort it
        "from oldpkg_extra import x  # another package\n\nfrom newpkg.core import run\n"
    )


def _files_under(folder: Path) -> dict[str, bytes]:
    """The bytes of each file under `folder`, less Python's bytecode caches (running the rename script writes them)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def _template_files(project: Path) -> dict[str, bytes]:
    """The bytes of each tracked file template.toml marks the template's."""
    manifest = load_manifest(project)
    return {name: (project / name).read_bytes() for name in manifest.template_files(tracked_files(project))}


@pytest.fixture(scope="module")
def renamed_to_the_longest_name(tmp_path_factory) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """A copy of this repository renamed to LONGEST_NAME, and the bytes of its src/mlci/ and of every file of the
    template's before the rename. One template file is made to name the package first (`mlci template check` would
    refuse it), so the rename is seen to leave alone even a template file it could rewrite."""
    project = copy_project(tmp_path_factory.mktemp("longest") / "project")
    with (project / "docs" / "scale.md").open("a", encoding="utf-8") as doc:
        doc.write(f"\n<!-- names {PROJECT.package} -->\n")
    subprocess.run(
        ["git", *IDENTITY, "commit", "-q", "-am", "a template file naming the package"], cwd=project, check=True
    )
    machinery = _files_under(project / "src/mlci")
    template = _template_files(project)
    done = subprocess.run(
        [sys.executable, str(project / "scripts/rename_package.py"), LONGEST_NAME],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return project, machinery, template


@pytest.mark.parametrize(
    "check",
    [["black", "--check"], ["isort", "--check-only"], ["flake8"]],
    ids=["black", "isort", "flake8"],
)
def test_the_template_renamed_to_the_longest_name_passes_the_linters(renamed_to_the_longest_name, check):
    project, _, _ = renamed_to_the_longest_name
    assert len(LONGEST_NAME) == rename_package.MAX_NAME_LENGTH
    linted = subprocess.run(
        [sys.executable, "-m", *check, *LINTED], cwd=project, capture_output=True, text=True, check=False
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_a_rename_leaves_the_machinery_package_byte_for_byte(renamed_to_the_longest_name):
    project, machinery, _ = renamed_to_the_longest_name
    assert _files_under(project / "src/mlci") == machinery
    assert (project / "src" / LONGEST_NAME / "cli.py").is_file()


def test_a_rename_leaves_every_file_of_the_templates_byte_for_byte(renamed_to_the_longest_name):
    project, _, template = renamed_to_the_longest_name
    assert len(template) > 100  # the Makefile, the Dockerfiles, the workflows, src/mlci/, the template's tests...
    changed = [name for name, content in template.items() if (project / name).read_bytes() != content]
    assert changed == []
    diff = subprocess.run(
        ["git", "diff", "--name-only", "--no-renames", "HEAD"], cwd=project, capture_output=True, text=True, check=True
    )
    manifest = load_manifest(project)
    assert [name for name in diff.stdout.splitlines() if manifest.side(name) == "template"] == []
    assert f"src/{LONGEST_NAME}/cli.py" in diff.stdout.splitlines()  # the rename happened


@pytest.mark.parametrize(
    ("repository", "package"),
    [("acme/My-ML.Project", "my_ml_project"), ("digits", "digits"), ("acme/2024-vision", "pkg_2024_vision")],
)
def test_a_package_name_is_derived_from_the_repository_name(repository, package):
    assert rename_package.name_from_repository(repository) == package


def test_a_repository_name_without_letters_or_digits_is_refused():
    with pytest.raises(
        rename_package.RenameError, match=r"^cannot make a package name from repository name 'acme/---'$"
    ):
        rename_package.name_from_repository("acme/---")


@pytest.mark.parametrize(
    ("text", "renamed"),
    [
        ("from oldpkg.cli import main", "from new_pkg.cli import main"),
        ("WATERMARK_TITLE: oldpkg-report", "WATERMARK_TITLE: new-pkg-report"),  # kebab-case compound: dashes only
        ("localhost/oldpkg-base:bookworm", "localhost/new-pkg-base:bookworm"),
        ('rm -f "$wheels"/oldpkg-*.whl', 'rm -f "$wheels"/new_pkg-*.whl'),  # a wheel's name-version separator
        ("oldpkg-0.1.0-py3-none-any.whl", "new_pkg-0.1.0-py3-none-any.whl"),
        ("def _oldpkg(): oldpkg_extra", "def _oldpkg(): oldpkg_extra"),  # other identifiers stay
    ],
)
def test_the_name_is_replaced_as_a_word_with_dashes_inside_kebab_case(text, renamed):
    assert rename_package.replace_name(text, "oldpkg", "new_pkg") == renamed
