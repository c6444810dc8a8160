"""The skip marker of the tests that build or run images: they need podman and mmdebstrap (no Docker engine here)."""

import shutil

import pytest

MISSING = [tool for tool in ("podman", "mmdebstrap") if shutil.which(tool) is None]

needs_podman = pytest.mark.skipif(
    bool(MISSING),
    reason=f"{', '.join(MISSING)} not installed: apt-get install podman buildah runc mmdebstrap uidmap "
    "(.ci/run installs them, so CI runs this test)",
)
