"""The worker writes the bytecode of the modules its sandbox re-imports for every workflow run.

Under PYTHONDONTWRITEBYTECODE=1 nothing else would, and every new ticket would compile
`workflows/ticket.py` from source again inside the sandbox.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ticketclock.worker import cache_workflow_bytecode


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A throwaway package `bcpkg.flows` holding one class, imported without writing bytecode."""
    root = tmp_path / "bcpkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "flows.py").write_text("class Flow:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield root
    for name in ("bcpkg.flows", "bcpkg"):
        sys.modules.pop(name, None)


def test_writes_pyc_for_module_and_packages_even_when_bytecode_writing_is_off(
    package: Path,
) -> None:
    flows = importlib.import_module("bcpkg.flows")
    pycs = [
        Path(importlib.util.cache_from_source(str(package / f)))
        for f in ("flows.py", "__init__.py")
    ]
    assert not any(p.exists() for p in pycs), "the import itself must not have written bytecode"

    assert cache_workflow_bytecode([flows.Flow]) == ["bcpkg", "bcpkg.flows"]

    assert all(p.exists() for p in pycs)
    # Current bytecode is left as it is: a second call rewrites nothing.
    written = [p.stat().st_mtime_ns for p in pycs]
    assert cache_workflow_bytecode([flows.Flow]) == ["bcpkg", "bcpkg.flows"]
    assert [p.stat().st_mtime_ns for p in pycs] == written
