"""House rules the layering test does not cover (docs/architecture.md), read from the source."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("bench", "drills", "harness")


def _files(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _calls(path: Path) -> Iterator[tuple[int, str]]:
    """`module.attr.name` of every call in `path`, dotted as written."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            parts: list[str] = []
            func: ast.expr = node.func
            while isinstance(func, ast.Attribute):
                parts.append(func.attr)
                func = func.value
            if isinstance(func, ast.Name):
                parts.append(func.id)
            yield node.lineno, ".".join(reversed(parts))


def test_tools_run_as_packages_without_path_tricks() -> None:
    """`python -m bench.throughput`: no script edits sys.path to find the checkout."""
    found = [
        f"{path.relative_to(ROOT)}:{line} {name}"
        for path in _files(*TOOLS)
        for line, name in _calls(path)
        if name in ("sys.path.insert", "sys.path.append")
    ]
    assert not found, found


def test_no_test_file_imports_another() -> None:
    """Shared helpers live in tests/support or conftest.py fixtures, never in a test file."""
    found = []
    for path in _files("tests"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                last = name.split(".")[-1]
                if name.startswith("tests.") and (last.startswith("test_") or last == "conftest"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not found, found


def test_the_tests_install_nothing() -> None:
    """Chromium (and anything else) is installed by the Makefile (`make browser`), not pytest:
    no test names an installer as a command (an argv element)."""
    installers = {"apt-get", "apt", "pip", "pip3", "dnf", "yum", "apk", "npm"}
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value}"
        for path in _files("tests")
        if path.name != "test_house.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in installers
    ]
    assert not found, found


def test_children_start_through_the_one_supervisor() -> None:
    """Long-lived children of `ticketclock dev`, benchmarks and drills start through
    plumbing/processes.py (own session, die with the parent), never a `preexec_fn`."""
    found = []
    for path in [*_files("ticketclock", *TOOLS)]:
        text = path.read_text(encoding="utf-8")
        if "preexec_fn" in text or "prctl" in text:
            found.append(str(path.relative_to(ROOT)))
        found += [
            f"{path.relative_to(ROOT)}:{line} {name}"
            for line, name in _calls(path)
            if name == "subprocess.Popen"
        ]
    assert not found, found
