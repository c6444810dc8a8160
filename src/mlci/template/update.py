"""`mlci template update`: bring a template release's files into a copy, and only those.

A three-way decision per template-owned path, with the release the copy is at (template.toml's `version`) as the
base: a file the copy never changed takes the release's bytes (or goes, when the release deleted it); a file the copy
changed keeps the change, merged with the release's (`git merge-file`) when both changed it, and when they conflict
the release's file is written and the copy's change is kept beside it as `<path>.rej` (a diff). Files of the user's
are never read or written. Nothing is committed: the working tree holds the update, the report says what it did.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mlci.errors import UserFacingError
from mlci.template.manifest import (
    MANIFEST,
    Manifest,
    extra_patterns,
    load_manifest,
    parse_manifest,
    project_names,
    tracked_files,
)

# What each outcome means to the user, in the report's words.
OUTCOMES = {
    "added": "new in the release",
    "updated": "changed in the release",
    "removed": "deleted in the release",
    "merged": "changed in the release and by you: merged, your change kept",
    "kept": "changed by you, not by the release: kept as you have it",
    "conflict": "changed in the release and by you, and the two conflict: the release's file is in place, your change "
    "is in <path>.rej",
    "kept-deleted": "deleted by you, not changed by the release: left deleted",
    "restored": "deleted by you and changed in the release: the release's file is back",
    "kept-removed": "deleted in the release but changed by you: your file kept (delete it if you no longer need it)",
    "yours": "the release makes it the template's, but it is yours here: left as it is (move it, then update again)",
}
CHANGELOG = "CHANGELOG.md"
NEEDS_REVIEW = ("merged", "kept", "conflict", "restored", "kept-removed", "yours")


class TemplateUpdateError(UserFacingError):
    """The update cannot run: no source, an unknown release, a git failure."""


@dataclass(frozen=True)
class Release:
    """One release of the template: its tag (or ref), and each file's bytes and mode, by path."""

    ref: str
    files: dict[str, tuple[bytes, int]]


@dataclass
class UpdateResult:
    old_version: str
    new_version: str
    source: str
    outcomes: dict[str, str] = field(default_factory=dict)  # path -> outcome (only paths that did something)
    notes: str = ""  # the release notes (CHANGELOG.md) of the releases after the old version, up to the new one

    @property
    def changed(self) -> bool:
        return any(outcome not in ("kept", "kept-deleted", "yours") for outcome in self.outcomes.values())

    def paths(self, *outcomes: str) -> list[str]:
        return sorted(path for path, outcome in self.outcomes.items() if outcome in outcomes)


def git(*args: str, cwd: Path, binary: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=not binary, env=env, check=False)
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace") if binary else done.stderr
        raise TemplateUpdateError(f"git {' '.join(args)}: {message.strip()}")
    return done


class TemplateSource:
    """The template's repository, fetched once into a bare scratch repository: its release tags and their files."""

    def __init__(self, source: str, scratch: Path):
        self.source = source
        self.repo = scratch / "template.git"
        git("init", "--quiet", "--bare", str(self.repo), cwd=scratch)
        location = str(Path(source).resolve()) if Path(source).exists() else source
        try:
            git("fetch", "--quiet", "--tags", location, "+refs/heads/*:refs/remotes/template/*", cwd=self.repo)
        except TemplateUpdateError as error:
            raise TemplateUpdateError(f"cannot fetch the template from {source}: {error}") from None

    def newest_release(self) -> str:
        tags = git("tag", "--list", "v[0-9]*", "--sort=-v:refname", cwd=self.repo).stdout.split()
        if not tags:
            raise TemplateUpdateError(f"{self.source} has no release tags (v1.2.3): pass REF=<tag or branch>")
        return tags[0]

    def commit(self, ref: str) -> str | None:
        for candidate in (f"refs/tags/{ref}", f"refs/remotes/template/{ref}", ref):
            found = subprocess.run(
                ["git", "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}"],
                cwd=self.repo,
                capture_output=True,
                text=True,
                check=False,
            )
            if found.returncode == 0:
                return found.stdout.strip()
        return None

    def release(self, ref: str) -> Release:
        commit = self.commit(ref)
        if commit is None:
            raise TemplateUpdateError(f"{self.source} has no tag or branch {ref!r}")
        archive = git("archive", "--format=tar", commit, cwd=self.repo, binary=True).stdout
        files = {}
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    files[member.name] = (tar.extractfile(member).read(), member.mode)
        return Release(ref, files)


def manifest_of(release: Release, package: str, extra_yours: tuple[str, ...]) -> Manifest:
    """The release's own template.toml, read for this copy (its package name, its own extra patterns)."""
    if MANIFEST not in release.files:
        raise TemplateUpdateError(f"release {release.ref} has no {MANIFEST}: it is not a release of this template")
    text = release.files[MANIFEST][0].decode("utf-8")
    return parse_manifest(text, f"{release.ref}:{MANIFEST}", package, extra_yours)


def version_key(version: str) -> tuple[int, ...] | None:
    """`v1.2.3` as (1, 2, 3); None for a name that is not a version."""
    found = re.fullmatch(r"v?(\d+(?:\.\d+)*)", version.strip())
    return tuple(int(part) for part in found.group(1).split(".")) if found else None


def release_notes(changelog: str, old: str, new: str) -> str:
    """The `## vX.Y.Z` sections of CHANGELOG.md newer than OLD and not newer than NEW, newest first."""
    low, high = version_key(old), version_key(new)
    sections = re.split(r"^(?=## )", changelog, flags=re.MULTILINE)
    kept = []
    for section in sections:
        heading = re.match(r"## (\S+)", section)
        key = version_key(heading.group(1)) if heading else None
        if key and high and (low is None or key > low) and key <= high:
            kept.append("#" + section.strip())
    return "\n\n".join(kept)


def decide(base: bytes | None, local: bytes | None, new: bytes | None) -> str | None:
    """The outcome for one path from its bytes at the base release, in the copy and in the new release."""
    if local == new:
        return None  # already as the release has it
    if local == base:
        return "removed" if new is None else "added" if base is None else "updated"
    if new == base:
        return "kept-deleted" if local is None else "kept"
    if local is None:
        return "restored"
    if new is None:
        return "kept-removed"
    return "merge"  # changed on both sides: merged, or a conflict


def three_way_merge(base: bytes, local: bytes, new: bytes) -> bytes | None:
    """`git merge-file` of the copy's and the release's changes; None when they conflict."""
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / name for name in ("local", "base", "new")]
        for path, content in zip(paths, (local, base, new)):
            path.write_bytes(content)
        done = subprocess.run(["git", "merge-file", "-p", *map(str, paths)], capture_output=True, check=False)
    return done.stdout if done.returncode == 0 else None


def your_change(path: str, base: bytes, local: bytes) -> bytes:
    """The copy's change to a template file, as a unified diff against the release it was made from."""
    before = base.decode("utf-8", errors="replace").splitlines(keepends=True)
    after = local.decode("utf-8", errors="replace").splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, f"a/{path}", f"b/{path}")).encode("utf-8")


def update_template(root: Path, source: str | None = None, ref: str | None = None) -> UpdateResult:
    """Replace ROOT's template-owned files with release REF's (default: the newest) of SOURCE (default: the
    manifest's), keeping the copy's own changes; return what was done to each path."""
    names = project_names(root)
    manifest = load_manifest(root, names.package)
    source = source or manifest.source
    if not source:
        raise TemplateUpdateError(f"{MANIFEST} names no template source: pass TEMPLATE=<git URL or path>")
    with tempfile.TemporaryDirectory(prefix="template-update-") as scratch:
        template = TemplateSource(source, Path(scratch))
        ref = ref or template.newest_release()
        new = template.release(ref)
        base = template.release(manifest.version) if template.commit(manifest.version) else None
    if base is None:
        raise TemplateUpdateError(
            f"{source} has no release {manifest.version!r} (the version {MANIFEST} says this copy is at), so local "
            "changes cannot be told from the template's: check the source, or set `version` to the release this copy "
            "was made from"
        )
    new_manifest = manifest_of(new, names.package, extra_patterns(root))
    result = UpdateResult(manifest.version, new_manifest.version or ref, source)
    if CHANGELOG in new.files:
        result.notes = release_notes(new.files[CHANGELOG][0].decode("utf-8"), manifest.version, result.new_version)
    tracked = set(tracked_files(root))
    owned = set(manifest.template_files(list(base.files))) | set(new_manifest.template_files(list(new.files)))
    owned |= {path for path in tracked if manifest.side(path) == "template"}
    writes: dict[str, tuple[bytes, int] | None] = {}
    for path in sorted(owned):
        local_path = root / path
        local = local_path.read_bytes() if local_path.is_file() else None
        base_file, new_file = base.files.get(path), new.files.get(path)
        if new_file is not None and manifest.side(path) == "yours" and local is not None:
            if local != new_file[0]:
                result.outcomes[path] = "yours"
            continue
        outcome = decide(base_file and base_file[0], local, new_file and new_file[0])
        if outcome is None:
            continue
        if outcome == "merge":
            merged = three_way_merge(base_file[0], local, new_file[0])
            outcome = "merged" if merged is not None else "conflict"
            writes[path] = (merged, new_file[1]) if merged is not None else new_file
            if merged is None:
                writes[path + ".rej"] = (your_change(path, base_file[0], local), 0o644)
        elif outcome in ("added", "updated", "restored"):
            writes[path] = new_file
        elif outcome == "removed":
            writes[path] = None
        result.outcomes[path] = outcome
    apply(root, writes)
    return result


def apply(root: Path, writes: dict[str, tuple[bytes, int] | None]) -> None:
    """Write (or delete) each path; each file is replaced whole (a temp file, then a rename)."""
    for path, content in writes.items():
        target = root / path
        if content is None:
            target.unlink(missing_ok=True)
            for folder in target.parents:
                if folder == root or any(folder.iterdir()):
                    break
                folder.rmdir()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(content[0])
        partial.chmod(0o755 if content[1] & 0o111 else 0o644)
        partial.replace(target)


def render_report(result: UpdateResult) -> str:
    """The update as Markdown: the PR body of template-sync.yml and the file `make update-template` writes."""
    lines = [f"# Template update: {result.old_version} → {result.new_version}", ""]
    review = result.paths(*NEEDS_REVIEW)
    if not result.changed:
        but = ", but for your changes below." if review else "."
        lines += [f"This copy is current: every template file is as {result.new_version} has it{but}", ""]
        lines += [f"- `{path}`: {OUTCOMES[result.outcomes[path]]}" for path in review]
        return "\n".join(lines + [""] if review else lines)
    lines += [
        f"From `{result.source}`. Only the template's files (template.toml) changed; yours are as they were. "
        "Derived files (the GX suite, the lock) were rebuilt.",
        "",
    ]
    if review:
        lines += ["## Template files you had changed: review these", ""]
        lines += [f"- `{path}`: {OUTCOMES[result.outcomes[path]].replace('<path>', path)}" for path in review]
        lines.append("")
    if result.notes:
        lines += ["## Release notes", "", result.notes, ""]
    for outcome in ("added", "updated", "removed"):
        paths = result.paths(outcome)
        if paths:
            lines += [f"## {OUTCOMES[outcome].capitalize()} ({len(paths)})", ""]
            lines += [f"- `{path}`" for path in paths] + [""]
    return "\n".join(lines)
