"""The layering of docs/architecture.md, checked from the source: every import counts.

Imports are read with `ast`, so those under `if TYPE_CHECKING:` and inside functions count as
much as those at the top of a module: a deferred import hides a dependency from Python, not from
the reader. Two rules:
- a package imports only the packages its layer allows (ALLOWED below);
- no import cycle, between modules of different packages or inside one package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What each of our packages may import (itself included). Lower layers first.
ALLOWED: dict[str, frozenset[str]] = {
    "policies": frozenset({"policies"}),
    "plumbing": frozenset({"plumbing"}),
    "workflows": frozenset({"workflows", "policies"}),
    "activities": frozenset({"activities", "workflows", "policies", "plumbing"}),
    "api": frozenset({"api", "workflows", "policies", "plumbing"}),
    "ticketclock": frozenset(
        {"ticketclock", "api", "activities", "workflows", "policies", "plumbing"}
    ),
    "harness": frozenset(
        {"harness", "ticketclock", "api", "activities", "workflows", "policies", "plumbing"}
    ),
    "bench": frozenset(
        {
            "bench",
            "harness",
            "ticketclock",
            "api",
            "activities",
            "workflows",
            "policies",
            "plumbing",
        }
    ),
    "drills": frozenset(
        {
            "drills",
            "bench",
            "harness",
            "ticketclock",
            "api",
            "activities",
            "workflows",
            "policies",
            "plumbing",
        }
    ),
}
OURS = frozenset(ALLOWED) | {"tests"}
# Tests may import anything of ours; nothing may import tests.
ALLOWED["tests"] = OURS


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> Iterator[Path]:
    for package in sorted(OURS):
        folder = ROOT / package
        if folder.is_dir():
            yield from sorted(folder.rglob("*.py"))


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module an import statement in `path` names, with its line (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            yield node.lineno, stem
            # `from pkg import module` imports the module too.
            for alias in node.names:
                yield node.lineno, f"{stem}.{alias.name}"


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in _sources()}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for _, target in _imports(path):
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_import_respects_the_layers() -> None:
    wrong = []
    for path in _sources():
        package = _module_name(path).split(".")[0]
        for line, target in _imports(path):
            top = target.split(".")[0]
            if top in OURS and top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not wrong, "imports against the layering (docs/architecture.md):\n" + "\n".join(
        sorted(set(wrong))
    )


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_test_files_import_no_other_test_file() -> None:
    # Shared test code lives in tests/support or conftest fixtures, where a reader looks for it.
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in _sources()
        for line, target in _imports(path)
        if target.startswith("tests.test_") or target.startswith("test_")
    ]
    assert not wrong, "\n".join(sorted(set(wrong)))


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def test_the_checks_see_deferred_and_type_checking_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The checker itself must catch what Python's import machinery would hide.
    _write(
        tmp_path,
        {
            "policies/__init__.py": "",
            "policies/a.py": "def f():\n    from policies.b import g\n    return g\n",
            "policies/b.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from policies import a\n    from plumbing.settings import X\n"
            ),
            "plumbing/__init__.py": "",
            "plumbing/settings.py": "X = 1\n",
        },
    )
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert _cycles(_graph()) == [["policies.a", "policies.b"]]
    with pytest.raises(AssertionError, match=r"policies/b.py:4 imports plumbing.settings"):
        test_every_import_respects_the_layers()


# -- one module talks to Temporal for the API ---------------------------------------------------
GATEWAY = ROOT / "api" / "temporal_gateway.py"
CLIENT_CALLS = frozenset({"get_workflow_handle", "get_workflow_handle_for", "list_workflows"})


def temporal_client_uses(path: Path) -> list[str]:
    """Where `path` imports `temporalio.client` or calls the client's handle/list methods."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "temporalio.client":
            found.append(f"{path.name}:{node.lineno}: from temporalio.client import ...")
        elif isinstance(node, ast.ImportFrom) and node.module == "temporalio":
            if any(alias.name == "client" for alias in node.names):
                found.append(f"{path.name}:{node.lineno}: from temporalio import client")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "temporalio.client":
                    found.append(f"{path.name}:{node.lineno}: import temporalio.client")
        elif isinstance(node, ast.Attribute) and node.attr in CLIENT_CALLS:
            found.append(f"{path.name}:{node.lineno}: .{node.attr}")
    return found


def test_only_the_gateway_talks_to_the_temporal_client() -> None:
    """api/temporal_gateway.py says it is the only API module that talks to Temporal: no other
    module under api/ imports `temporalio.client` or gets a workflow handle or lists workflows."""
    offenders = [
        use
        for path in sorted((ROOT / "api").rglob("*.py"))
        if path != GATEWAY
        for use in temporal_client_uses(path)
    ]
    assert offenders == []
    assert temporal_client_uses(GATEWAY), "the check must see the gateway's own calls"
