"""`mlci check-params`: the project's own check of params.yaml, run by `make repro` before `dvc repro`.

DVC runs a stage only when its params changed, and compares values, not their spelling: `epochs: 12.0` equals the
recorded `12`, so the stage (and the project's config check inside it) is skipped and the wrong type waits for a
later retrain. The machinery knows no project's params, so the project registers its check as an entry point:

    [project.entry-points."mlci"]
    params_check = "yourpackage.config:load_config"

It is called with the params file's path and raises a UserFacingError (mlci.errors) naming the key and the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from mlci.errors import UserFacingError

GROUP, NAME = "mlci", "params_check"

ParamsCheck = Callable[[Path], object]


def find_params_check() -> ParamsCheck | None:
    """The project's registered check, or None when it registers none."""
    found = sorted({e.value: e for e in metadata.entry_points(group=GROUP) if e.name == NAME}.items())
    if len(found) > 1:
        raise UserFacingError(f"several params checks registered: {', '.join(value for value, _ in found)}; keep one")
    if not found:
        return None
    try:
        return found[0][1].load()
    except (ImportError, AttributeError) as error:
        raise UserFacingError(f"the registered params check {found[0][0]!r} cannot be loaded: {error}") from error


def check_params(path: Path) -> bool:
    """Run the project's check on `path` (its UserFacingError propagates); False when none is registered."""
    check = find_params_check()
    if check is None:
        return False
    check(path)
    return True
