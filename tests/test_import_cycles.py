"""No import cycles among the modules of any of our packages (ARCHITECTURE.md, "Dependency rule").

Every ``import`` and ``from … import`` counts, at module level or inside a function (a cycle that only
closes at call time is still a cycle: it hides which module depends on which). Imports under
``if TYPE_CHECKING:`` do not, since they never run. An import names one module: ``from .a import b``
is an edge to ``a.b`` when that is a module, else to ``a``; a package's ``__init__`` is the package's
own module and is not implied by importing one of its submodules.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[1] / "packages"
# Found by looking, so that a new package is checked without being listed; these must be among them.
EXPECTED = frozenset({"coder_client", "coder_sim", "coder_slack", "coder_jupyter"})

Graph = dict[str, set[str]]


def package_roots() -> dict[str, Path]:
    """Every importable package under ``packages/*/src``, by its import name."""
    return {
        root.name: root
        for root in sorted(PACKAGES.glob("*/src/*"))
        if root.is_dir() and (root / "__init__.py").is_file()
    }


def module_names(root: Path) -> dict[str, Path]:
    """Dotted module name → source file, for every module of the package at ``root``."""
    modules: dict[str, Path] = {}
    for source in sorted(root.rglob("*.py")):
        parts = source.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = source
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportCollector(ast.NodeVisitor):
    """The modules a source imports when it runs: every import except under ``if TYPE_CHECKING:``."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        # Each import as the names it may refer to, most specific first.
        self.targets: list[tuple[str, ...]] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.targets.extend((alias.name,) for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base_parts = self.package.split(".")
            base_parts = base_parts[: len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        # ``from base import name``: the submodule ``base.name`` if there is one, else ``base``.
        self.targets.extend((f"{base}.{alias.name}", base) for alias in node.names)


def imports_of(source: Path, module: str) -> list[tuple[str, ...]]:
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    collector = _ImportCollector(module, is_package=source.name == "__init__.py")
    collector.visit(tree)
    return collector.targets


def import_graph(root: Path) -> Graph:
    modules = module_names(root)
    graph: Graph = {name: set() for name in modules}
    for name, source in modules.items():
        for candidates in imports_of(source, name):
            found = next((candidate for candidate in candidates if candidate in modules), None)
            if found is not None:
                graph[name].add(found)
    return graph


def _strongly_connected(graph: Graph) -> Iterator[set[str]]:
    """Tarjan's algorithm, iteratively (no recursion limit on long chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                yield component


def _shortest_cycle_through(start: str, component: set[str], graph: Graph) -> list[str]:
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph[node] & component):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"{start} is in a cycle but none leads back to it")


def import_cycles(graph: Graph) -> list[list[str]]:
    """One shortest cycle per group of modules that import each other (each starts at its first name)."""
    cycles = []
    for component in _strongly_connected(graph):
        start = min(component)
        if len(component) > 1 or start in graph[start]:
            cycles.append(_shortest_cycle_through(start, component, graph))
    return sorted(cycles)


def describe(cycles: Iterable[list[str]]) -> str:
    return "\n".join(" → ".join(cycle) for cycle in cycles)


@pytest.mark.parametrize("package", sorted(package_roots()))
def test_no_import_cycle_among_a_packages_modules(package: str) -> None:
    cycles = import_cycles(import_graph(package_roots()[package]))
    assert not cycles, f"import cycles in {package} (break each one):\n{describe(cycles)}"


def test_every_package_is_found() -> None:
    assert package_roots().keys() >= EXPECTED


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_the_checker_names_a_cycle_closed_by_an_import_inside_a_function(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/app.py": "from . import seed\n",
            "pkg/seed.py": "def main() -> None:\n    from .cli import run\n",
            "pkg/cli.py": "from pkg.app import build\n",
            "pkg/leaf.py": "import os\nfrom .app import build\n",
        },
    )
    assert describe(import_cycles(import_graph(package))) == "pkg.app → pkg.seed → pkg.cli → pkg.app"


def test_the_checker_resolves_packages_and_ignores_type_checking_imports(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .sub import thing\n",
            "pkg/sub/__init__.py": "from ..model import Model\n",
            "pkg/model.py": (
                "from typing import TYPE_CHECKING\n"
                "import typing\n"
                "if TYPE_CHECKING:\n    from pkg import sub\n"
                "if typing.TYPE_CHECKING:\n    import pkg.sub\nelse:\n    from . import other\n"
            ),
            "pkg/other.py": "from .sub import helper\n",
        },
    )
    graph = import_graph(package)
    assert graph["pkg"] == {"pkg.sub"}
    assert graph["pkg.sub"] == {"pkg.model"}
    assert graph["pkg.model"] == {"pkg.other"}
    assert describe(import_cycles(graph)) == "pkg.model → pkg.other → pkg.sub → pkg.model"
