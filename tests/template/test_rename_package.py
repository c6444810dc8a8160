"""scripts/rename_package.py on a small stand-in project: what it renames, what it leaves alone, what it refuses."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "rename_package.py"

_spec = importlib.util.spec_from_file_location("rename_package", SCRIPT)
rename_package = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("rename_package", rename_package)  # dataclasses look their module up there
_spec.loader.exec_module(rename_package)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    files = {
        "src/oldpkg/__init__.py": '"""oldpkg."""\n',
        "src/oldpkg/cli.py": "from oldpkg.core import run\nfrom oldpkg_extra import x  # another package\n",
        "pyproject.toml": '[project]\nname = "oldpkg"\n[project.scripts]\noldpkg = "oldpkg.cli:main"\n',
        "dvc.yaml": "stages:\n  train:\n    cmd: oldpkg train\n    deps: [src/oldpkg/cli.py]\n",
        "dvc-store/files/md5/ab/cdef": "oldpkg stays: content-hashed\n",
        "LICENSE": "Copyright (c) The oldpkg authors\n",
        "blob.bin": b"\xff\xfeoldpkg",
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
        "from newpkg.core import run\nfrom oldpkg_extra import x  # another package\n"
    )
    assert (project / "pyproject.toml").read_text() == (
        '[project]\nname = "newpkg"\n[project.scripts]\nnewpkg = "newpkg.cli:main"\n'
    )
    assert "cmd: newpkg train" in (project / "dvc.yaml").read_text()
    assert "src/newpkg/cli.py" in (project / "dvc.yaml").read_text()
    assert sorted(result.rewritten) == ["dvc.yaml", "pyproject.toml", "src/newpkg/__init__.py", "src/newpkg/cli.py"]
    staged = subprocess.run(["git", "diff", "--cached", "--name-status"], cwd=project, capture_output=True, text=True)
    assert "src/newpkg/cli.py" in staged.stdout  # moved with git mv, so history follows


def test_rename_leaves_the_dvc_store_the_license_and_binary_files_alone(project):
    rename_package.rename_package(project, "newpkg")
    assert (project / "dvc-store/files/md5/ab/cdef").read_text() == "oldpkg stays: content-hashed\n"
    assert (project / "LICENSE").read_text() == "Copyright (c) The oldpkg authors\n"
    assert (project / "blob.bin").read_bytes() == b"\xff\xfeoldpkg"


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
    ],
)
def test_cli_refuses_a_bad_name_with_the_reason_and_changes_nothing(project, name, message):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), name, "--root", str(project)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (2, f"error: {message}\n")
    assert (project / "src/oldpkg/cli.py").is_file()


def test_cli_refuses_a_name_that_is_already_installed(project):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "pytest", "--root", str(project)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: 'pytest' is already an importable module here (")
    assert result.stderr.endswith("): choose another name\n")


def test_cli_refuses_a_project_without_exactly_one_package(tmp_path):
    (tmp_path / "src").mkdir()
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "newpkg", "--root", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (
        2,
        f"error: expected exactly one package under {tmp_path / 'src'}, found none\n",
    )


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
