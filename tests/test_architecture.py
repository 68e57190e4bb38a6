"""The house rules a reader relies on (docs/architecture.md): one-way dependencies, no import circle, models in step with migrations."""
from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("identities", "insi", "insportal")
CAPABILITIES = ("portal", "matching", "merge", "workflows", "documents", "interop")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _production_modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }


MODULES = _production_modules()


def _resolve(name: str) -> str | None:
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, *, module_level_only: bool) -> set[str]:
    """The project modules a module imports (at import time only, or anywhere in it)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.If) and getattr(child.test, "id", getattr(child.test, "attr", "")) == "TYPE_CHECKING":
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)) and not (module_level_only and in_function):
                if isinstance(child, ast.Import):
                    names = [alias.name for alias in child.names]
                else:
                    base = child.module or ""
                    if child.level:
                        parent = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                        base = ".".join(parent + ([base] if base else []))
                    # ``from package import module`` depends on that module; ``from module import name`` on the module.
                    names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in child.names]
                found.update(target for target in map(_resolve, names) if target and target != module)
            visit(child, nested)

    visit(tree, False)
    return found


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_no_module_level_import_circle_between_project_modules():
    graph = {module: _imports(module, module_level_only=True) for module in MODULES}
    assert _circles(graph) == []


def test_the_core_imports_no_capability_not_even_inside_a_function():
    core = [module for module in MODULES if module.startswith("identities.core")]
    reaching_out = {
        module: sorted(target for target in _imports(module, module_level_only=False)
                       if target.split(".")[:2][-1] in CAPABILITIES and target.startswith("identities."))
        for module in core
    }
    assert {module: targets for module, targets in reaching_out.items() if targets} == {}


def test_insi_knows_nothing_of_the_identities_app():
    insi = [module for module in MODULES if module.startswith("insi")]
    assert {m: sorted(t for t in _imports(m, module_level_only=False) if t.startswith("identities")) for m in insi} == {
        m: [] for m in insi
    }


def test_at_most_twelve_modules_sit_directly_in_identities():
    direct = sorted(path.name for path in (ROOT / "identities").glob("*.py"))
    assert len(direct) <= 12, direct


@pytest.mark.django_db
def test_the_models_match_the_migrations():
    """A reorganisation moves code, never tables: no migration is missing or pending."""
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
