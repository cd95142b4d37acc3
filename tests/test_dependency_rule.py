"""DESIGN.md's dependency rule, checked on every import statement of every package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[1] / "packages"
OURS = {"coder_client", "coder_sim", "coder_slack", "coder_jupyter", "slack_sim"}
ALLOWED = {
    "coder_client": set(),
    "coder_sim": set(),
    "coder_slack": {"coder_client"},
    "coder_jupyter": {"coder_client"},
    "slack_sim": set(),
}
# slack_sim's console drives the coder-slack bot through the stand-in; the rest of slack_sim imports
# nothing of ours, and nothing of ours imports slack_sim (test doubles stay out of the product).
ALLOWED_UNDER = {("slack_sim", "console"): {"coder_slack", "coder_client"}}


def imported_top_levels(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def allowed_for(module: str, source: Path, root: Path) -> set[str]:
    return ALLOWED[module] | ALLOWED_UNDER.get((module, source.relative_to(root).parts[0]), set())


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_each_package_imports_only_what_the_rule_allows(module: str) -> None:
    root = PACKAGES / module.replace("_", "-") / "src" / module
    sources = sorted(root.rglob("*.py"))
    assert sources, f"no sources under {root}"
    offenders = {
        f"{source.relative_to(PACKAGES)} imports {sorted(bad)}"
        for source in sources
        if (bad := (imported_top_levels(source) & OURS) - allowed_for(module, source, root) - {module})
    }
    assert not offenders, "dependency rule broken:\n" + "\n".join(sorted(offenders))


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom coder_sim.server import SimServer\nfrom . import local\n")
    assert imported_top_levels(sample) & OURS == {"coder_sim"}
