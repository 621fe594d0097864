"""The import structure of docs/design.md, checked on the source (no import is executed).

Layers, bottom up: the shared core (``errors``, ``config``, ``db``, ``pagination``,
``money``, ``audit``, and ``authz``'s principal), the domains (a package each; the rules
module ``authz/<domain>.py`` belongs to its domain), and the edge (``web``, every
``<domain>/api.py`` and ``<domain>/cli.py``, the command line and the migrations). Imports
run downwards only, domains depend on each other without a cycle, and nothing imports inside
a function to get round these rules.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "src" / "techbridge"
CORE = {"errors", "config", "db", "pagination", "money", "audit", "authz"}
EDGE = {"web", "cli", "cli_support", "models", "migrate", "migrations"}
EDGE_MODULES = {"api", "admin_api", "cli"}  # inside a domain package: its HTTP and CLI edge
# Deferred on purpose, with the reason; any other import inside a function fails.
DEFERRED = {
    ("techbridge.web.cli", "techbridge.web.app"): "the web application loads only to serve",
    ("techbridge.web.cli", "techbridge.web.auth"): "the web application loads only to serve",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in SOURCE.rglob("*.py")}
DOMAINS = sorted(
    path.name
    for path in SOURCE.iterdir()
    if path.is_dir() and (path / "__init__.py").exists() and path.name not in CORE | EDGE
)


def resolve(node: ast.ImportFrom | ast.Import) -> Iterator[str]:
    """The techbridge modules an import statement loads (``from a import b`` is module
    ``a.b`` when that is a module, else ``a``)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names if alias.name.startswith("techbridge"))
        return
    base = node.module or ""
    if not base.startswith("techbridge"):
        return
    for alias in node.names:
        yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base


def imports(name: str) -> Iterator[tuple[str, bool]]:
    """(imported module, whether the import is inside a function or class)."""
    tree = ast.parse(MODULES[name].read_text("utf-8"))
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            nested.update(id(inner) for inner in ast.walk(node) if inner is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in resolve(node):
                yield target, id(node) in nested


GRAPH = {name: {target for target, _ in imports(name)} - {name} for name in MODULES}


def layer(name: str) -> tuple[str, str | None]:
    """("core" | "domain" | "edge", the domain it belongs to)."""
    parts = name.split(".")[1:]
    if not parts:
        return "core", None
    top = parts[0]
    if top == "authz" and len(parts) > 1 and parts[1] in DOMAINS:
        return "domain", parts[1]  # a domain's rules, kept together with the others
    if top in CORE:
        return "core", None
    if top in EDGE or (top in DOMAINS and len(parts) > 1 and parts[1] in EDGE_MODULES):
        return "edge", top if top in DOMAINS else None
    return "domain", top


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def domain_graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for name, targets in GRAPH.items():
        kind, owner = layer(name)
        if kind != "domain" or owner is None:
            continue
        for target in targets:
            target_kind, target_owner = layer(target)
            if target_kind == "domain" and target_owner not in (None, owner):
                edges[owner].add(target_owner)
    return edges


def test_the_checks_see_the_whole_source() -> None:
    assert {"catalog", "accounts", "deals", "matching", "stats"} <= set(DOMAINS)
    assert layer("techbridge.catalog.service.listings") == ("domain", "catalog")
    assert layer("techbridge.authz.catalog") == ("domain", "catalog")
    assert layer("techbridge.authz") == ("core", None)
    assert layer("techbridge.catalog.api") == ("edge", "catalog")
    assert layer("techbridge.web.pages") == ("edge", None)
    assert GRAPH["techbridge.catalog.service.listings"] >= {"techbridge.authz.catalog"}


def test_the_module_graph_has_no_cycle() -> None:
    assert cycles(GRAPH) == []


def test_the_domain_graph_has_no_cycle() -> None:
    graph = domain_graph()
    assert cycles(graph) == [], dict(graph)
    assert graph["accounts"] >= {"catalog"}  # the graph is built from the real imports


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_downwards(name: str) -> None:
    kind, owner = layer(name)
    for target in sorted(GRAPH[name]):
        target_kind, _ = layer(target)
        if kind == "core":
            assert target_kind == "core", f"{name} (shared core) imports {target}"
        elif kind == "domain":
            assert target_kind != "edge", f"{name} (domain {owner}) imports the edge: {target}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_other_domains_are_used_through_their_public_modules(name: str) -> None:
    """A domain reaches another through its ``service`` package (never a module inside
    it), its schemas, kinds, file formats and models (models to read in queries; only its service
    changes them), and the accounts outbox (``accounts.mail``) — and no domain but accounts touches ``accounts.service``."""
    kind, owner = layer(name)
    if kind != "domain":
        return
    public = {
        "service",
        "schemas",
        "kinds",
        "models",
        "jsonl",
        "names",
        "characters",
        "credit_code",
        "mail",  # accounts' outbox: any domain queues mail in its own transaction
    }
    for target in sorted(GRAPH[name]):
        target_kind, target_owner = layer(target)
        if target_kind != "domain" or target_owner in (None, owner):
            continue
        if target.startswith("techbridge.authz."):
            continue  # another domain's rules: read-only predicates
        rest = target.split(".")[2:]
        assert len(rest) == 1 and rest[0] in public, f"{name} imports {target}"
        assert target != "techbridge.accounts.service", f"{name} imports accounts.service"


def test_nothing_imports_inside_a_function_to_dodge_a_cycle() -> None:
    deferred = {
        (name, target)
        for name in MODULES
        for target, inside in imports(name)
        if inside and target.startswith("techbridge")
    }
    assert deferred == set(DEFERRED)
