"""What `dvc.yaml` says about the pipeline's outputs (which files hold metrics and which hold plots), and which data
a `.dvc` file tracks that no DVC store holds.

The report and `mlci metrics` learn the metrics and plots from here instead of from hard-coded paths, so a project
that renames its stages or adds a metrics file needs no change in the machinery. DVC's `${...}` templating is
resolved from `params.yaml` and the files named under `vars:`; a name that cannot be resolved is kept literally.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlci.errors import UserFacingError
from mlci.files import DVC_YAML, PARAMS

PLOT_SUFFIXES = (".tsv", ".csv", ".json", ".yaml", ".yml")
_REFERENCE = re.compile(r"\$\{\s*([^}\s]+)\s*\}")


class DvcYamlError(UserFacingError):
    """`dvc.yaml` (or a file it names under `vars:`) cannot be read."""


@dataclass(frozen=True)
class PlotSpec:
    """One plot as `dvc.yaml` defines it: its title, each data file with the fields to draw, the template and x."""

    title: str
    files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # file -> y fields (empty: every numeric one)
    template: str | None = None
    x: str | None = None


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise DvcYamlError(f"{path} is not valid YAML: {error}") from None


def load_dvc_yaml(root: Path) -> Mapping:
    """`dvc.yaml` as a mapping with `${...}` resolved where possible; empty when the file is absent."""
    path = Path(root) / DVC_YAML
    if not path.is_file():
        return {}
    raw = _load_yaml(path) or {}
    if not isinstance(raw, Mapping):
        raise DvcYamlError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return _resolve(raw, _context(Path(root), raw.get("vars") or []))


def _context(root: Path, entries: list) -> dict:
    """The values `${...}` may name: params.yaml (DVC's default) then each `vars:` entry, later ones winning."""
    context: dict = {}
    default = root / PARAMS
    if default.is_file() and isinstance(loaded := _load_yaml(default), Mapping):
        context.update(loaded)
    for entry in entries if isinstance(entries, list) else [entries]:
        if isinstance(entry, Mapping):
            context.update(entry)
            continue
        name, _, keys = str(entry).partition(":")
        source = root / name
        if not source.is_file():
            continue
        loaded = _load_yaml(source)
        if not isinstance(loaded, Mapping):
            continue
        wanted = [key.strip() for key in keys.split(",") if key.strip()]
        context.update({key: loaded[key] for key in wanted if key in loaded} if wanted else loaded)
    return context


def _lookup(context: Mapping, dotted: str) -> Any:
    value: Any = context
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(dotted)
        value = value[part]
    return value


def _resolve(node: Any, context: Mapping) -> Any:
    if isinstance(node, str):
        whole = _REFERENCE.fullmatch(node)
        if whole:
            try:
                return _lookup(context, whole.group(1))
            except KeyError:
                return node

        def substitute(match: re.Match) -> str:
            try:
                return str(_lookup(context, match.group(1)))
            except KeyError:
                return match.group(0)

        return _REFERENCE.sub(substitute, node)
    if isinstance(node, Mapping):
        return {_resolve(key, context): _resolve(value, context) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, context) for item in node]
    return node


def _entry_paths(entries: Any) -> list[tuple[str, Mapping]]:
    """(path, options) of each entry of an outs-like list: a path string or a one-key mapping {path: options}."""
    paths = []
    for entry in entries or []:
        if isinstance(entry, Mapping):
            for path, options in entry.items():
                paths.append((str(path), options if isinstance(options, Mapping) else {}))
        elif entry is not None:
            paths.append((str(entry), {}))
    return paths


def _stages(dvc_yaml: Mapping) -> list[Mapping]:
    stages = dvc_yaml.get("stages") or {}
    if not isinstance(stages, Mapping):
        return []
    found = []
    for stage in stages.values():
        if not isinstance(stage, Mapping):
            continue
        if "do" in stage and isinstance(stage["do"], Mapping):  # a foreach/matrix stage: its body
            stage = stage["do"]
        found.append(stage)
    return found


def metrics_files(root: Path) -> list[str]:
    """Every metrics file `dvc.yaml` lists (each stage's `metrics:`, then the top-level `metrics:`), in that order."""
    dvc_yaml = load_dvc_yaml(root)
    paths = [path for stage in _stages(dvc_yaml) for path, _ in _entry_paths(stage.get("metrics"))]
    paths += [path for path, _ in _entry_paths(dvc_yaml.get("metrics"))]
    return list(dict.fromkeys(paths))


def _fields(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return (str(value),)


def _top_level_plot(name: str, options: Mapping) -> PlotSpec:
    title = str(options.get("title") or name)
    y = options.get("y")
    x = options.get("x")
    if isinstance(y, Mapping):  # {file: field or [fields]}: the plot's id is only its name
        files = {str(path): _fields(fields) for path, fields in y.items()}
    else:  # the id is the data file itself
        files = {name: _fields(y)}
    return PlotSpec(
        title=title,
        files=files,
        template=options.get("template"),
        x=x if isinstance(x, str) else None,
    )


def plot_specs(root: Path) -> list[PlotSpec]:
    """Every plot `dvc.yaml` defines: the top-level `plots:` list, then each stage's `plots:` outputs.

    A path that is a folder in the workspace stands for one plot per data file inside it.
    """
    dvc_yaml = load_dvc_yaml(root)
    specs: list[PlotSpec] = []
    top = dvc_yaml.get("plots") or []
    for entry in top if isinstance(top, list) else [top]:
        if isinstance(entry, Mapping):
            for name, options in entry.items():
                specs.append(_top_level_plot(str(name), options if isinstance(options, Mapping) else {}))
        elif entry is not None:
            specs.append(PlotSpec(title=str(entry), files={str(entry): ()}))
    for stage in _stages(dvc_yaml):
        for path, options in _entry_paths(stage.get("plots")):
            specs.append(
                PlotSpec(
                    title=str(options.get("title") or path),
                    files={path: _fields(options.get("y"))},
                    template=options.get("template"),
                    x=options.get("x") if isinstance(options.get("x"), str) else None,
                )
            )
    return [spec for original in specs for spec in _expand_folders(Path(root), original)]


def _expand_folders(root: Path, spec: PlotSpec) -> list[PlotSpec]:
    if len(spec.files) != 1:
        return [spec]
    ((path, fields),) = spec.files.items()
    folder = root / path
    if not folder.is_dir():
        return [spec]
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in PLOT_SUFFIXES)
    return [
        PlotSpec(
            title=p.relative_to(root).as_posix(),
            files={p.relative_to(root).as_posix(): fields},
            template=spec.template,
            x=spec.x,
        )
        for p in found
    ]


# ------------------------------------------------------------------------------------------------ data no store holds
def tracked_paths(root: Path, dvc_file: str) -> list[str]:
    """The paths a `.dvc` file tracks (its `outs:`), relative to `root`."""
    path = Path(root) / dvc_file
    if not path.is_file():
        raise DvcYamlError(f"{dvc_file} not found")
    loaded = _load_yaml(path)
    outs = loaded.get("outs") if isinstance(loaded, Mapping) else None
    folder = Path(dvc_file).parent
    return [(folder / str(out["path"])).as_posix() for out in outs or [] if isinstance(out, Mapping) and "path" in out]


def unrecoverable_data(root: Path, dvc_file: str) -> list[str]:
    """The files `dvc_file` tracks that neither the DVC cache nor the default remote holds (`dvc data status`), so
    no pull can restore them; empty when DVC cannot tell (the remote unreachable, say)."""
    status = subprocess.run(
        [sys.executable, "-m", "dvc", "data", "status", "--not-in-remote", "--granular", "--json"]
        + tracked_paths(root, dvc_file),
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        found = json.loads(status.stdout) if status.returncode == 0 else {}
    except json.JSONDecodeError:
        return []
    return sorted(set(found.get("not_in_cache") or []) & set(found.get("not_in_remote") or []))
