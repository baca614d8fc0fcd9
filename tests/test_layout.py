"""The layout rules, read from the source (AST only: nothing here imports the code it checks).

- Imports point one way: ``gateways`` -> ``trivia_actors`` -> ``schema``.
- Outside a subsystem package ``trivia_actors.X``, code imports its facade ``trivia_actors.X`` (and only the
  names the facade exports), never a private module ``trivia_actors.X.something``. Tests are exempt.
- No two modules import each other (module-level imports; imports under ``if TYPE_CHECKING:`` and inside
  functions run after both modules are loaded, so they are not counted).
- Every facade has an ``__all__`` whose names it defines.
- No module but the settings module reads the environment: the environment is parsed once, into Settings.

The checker is tried on small synthetic modules first, so a rule that could never fail is caught too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateways", "trivia_actors", "schema")
SUBSYSTEMS = ("rules", "runtime", "kafka", "session", "worker", "deepseek", "exports")
SETTINGS_MODULES = frozenset({"trivia_actors.runtime.settings"})
ENVIRONMENT_READS = frozenset({"environ", "environb", "getenv", "getenvb"})
# The map of docs/design-notes.md: the subsystems each subsystem may import (schema is open to all of them).
MAY_IMPORT = {
    "rules": frozenset(),
    "runtime": frozenset(),
    "kafka": frozenset({"runtime"}),
    "session": frozenset({"rules", "runtime"}),
    "worker": frozenset({"rules", "runtime", "kafka", "deepseek"}),
    "deepseek": frozenset({"rules", "runtime"}),
    "exports": frozenset({"rules", "runtime"}),
}
FORBIDDEN = {  # package -> the top-level packages it must not import
    "trivia_actors": ("gateways",),
    "schema": ("trivia_actors", "gateways"),
}


# --- the checker ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    """One module's source, under its dotted name."""

    name: str
    source: str
    is_package: bool = False

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]

    def tree(self) -> ast.Module:
        return ast.parse(self.source, filename=self.name)


@dataclass(frozen=True)
class Import:
    """One import statement's target: ``module``, and for ``from m import a, b`` the names."""

    module: str
    names: tuple[str, ...]
    line: int
    at_load: bool  # runs when the module is loaded (module level, not under TYPE_CHECKING)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.package.split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def imports(module: Module) -> list[Import]:
    """Every import of ``module``, marking those that run when it is loaded."""
    found: list[Import] = []

    def visit(nodes: list[ast.stmt], at_load: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.extend(Import(alias.name, (), node.lineno, at_load) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                names = tuple(alias.name for alias in node.names)
                found.append(Import(_resolve(module, node), names, node.lineno, at_load))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(node.body, False)
            elif isinstance(node, ast.ClassDef):
                visit(node.body, at_load)
            elif isinstance(node, ast.If):
                visit(node.body, at_load and not _is_type_checking(node.test))
                visit(node.orelse, at_load)
            elif isinstance(node, ast.Try | ast.TryStar):
                visit(node.body, at_load)
                for handler in node.handlers:
                    visit(handler.body, at_load)
                visit(node.orelse, at_load)
                visit(node.finalbody, at_load)
            elif isinstance(node, ast.With | ast.AsyncWith):
                visit(node.body, at_load)
            elif isinstance(node, ast.For | ast.AsyncFor | ast.While):
                visit(node.body, at_load)
                visit(node.orelse, at_load)

    visit(module.tree().body, True)
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def targets(imp: Import, known: set[str]) -> set[str]:
    """The modules an import depends on: each imported name that is a module, and the module it is imported
    from unless every name is a submodule (``from package import submodule`` needs only the submodule)."""
    submodules = {f"{imp.module}.{name}" for name in imp.names if f"{imp.module}.{name}" in known}
    return submodules if imp.names and len(submodules) == len(imp.names) else {imp.module, *submodules}


def direction_violations(module: Module) -> list[str]:
    """Imports against the one direction gateways -> trivia_actors -> schema."""
    top = module.name.split(".")[0]
    return [f"{module.name}:{imp.line} imports {imp.module}" for imp in imports(module)
            for forbidden in FORBIDDEN.get(top, ()) if _within(imp.module, forbidden)]


def map_violations(module: Module) -> list[str]:
    """Imports of one subsystem by another that the map does not allow."""
    parts = module.name.split(".")
    if parts[0] != "trivia_actors" or len(parts) < 2 or parts[1] not in MAY_IMPORT:
        return []
    own = parts[1]
    problems = []
    for imp in imports(module):
        target = imp.module.split(".")
        if target[0] == "trivia_actors" and len(target) > 1 and target[1] != own \
                and target[1] not in MAY_IMPORT[own]:
            problems.append(f"{module.name}:{imp.line} imports {imp.module} ({own} may import: "
                            f"{', '.join(sorted(MAY_IMPORT[own])) or 'no other subsystem'})")
    return problems


def facade_violations(module: Module, exported: dict[str, set[str]]) -> list[str]:
    """Imports of a subsystem's private module (or of a name its facade does not export) from outside it.

    ``exported`` maps each facade (``trivia_actors.X``) to the names of its ``__all__``.
    """
    problems = []
    for imp in imports(module):
        for facade, names in exported.items():
            if _within(module.name, facade) or not _within(imp.module, facade):
                continue
            if imp.module != facade:
                problems.append(f"{module.name}:{imp.line} imports the private {imp.module}; use {facade}")
            else:
                hidden = sorted(set(imp.names) - names - {"*"})
                if hidden:
                    problems.append(f"{module.name}:{imp.line} imports {', '.join(hidden)} from {facade}, "
                                    "which its __all__ does not export")
    return problems


def mutual_imports(modules: list[Module]) -> list[str]:
    """Pairs of modules that import each other when loaded."""
    known = {module.name for module in modules}
    edges: dict[str, set[str]] = {}
    for module in modules:
        for imp in imports(module):
            if imp.at_load:
                edges.setdefault(module.name, set()).update(targets(imp, known) & known - {module.name})
    return sorted(f"{a} <-> {b}" for a, outgoing in edges.items() for b in outgoing
                  if a < b and a in edges.get(b, set()))


def _bound_names(tree: ast.Module) -> set[str]:
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            bound.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                bound.update(name.id for name in ast.walk(target) if isinstance(name, ast.Name))
    return bound


def facade_exports(facade: Module) -> tuple[set[str], list[str]]:
    """The names of a facade's ``__all__``, and what is wrong with it (missing, not literal, undefined names)."""
    tree = facade.tree()
    declared = [node for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)
                and any(isinstance(t, ast.Name) and t.id == "__all__"
                        for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))]
    if not declared:
        return set(), [f"{facade.name} has no __all__"]
    value = declared[-1].value
    if not isinstance(value, ast.List | ast.Tuple) or not all(
            isinstance(item, ast.Constant) and isinstance(item.value, str) for item in value.elts):
        return set(), [f"{facade.name}: __all__ is not a literal list of names"]
    names = [item.value for item in value.elts if isinstance(item, ast.Constant)]
    undefined = sorted(set(names) - _bound_names(tree))
    return set(names), [f"{facade.name}: __all__ names {name!r}, which it does not define" for name in undefined]


def environment_reads(module: Module) -> list[str]:
    """Reads of the environment (``os.environ``, ``os.getenv``, ``from os import environ``...)."""
    tree = module.tree()
    os_names = {"os"}
    problems: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names.update(alias.asname or alias.name for alias in node.names if alias.name == "os")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            problems.extend((node.lineno, f"imports os.{alias.name}") for alias in node.names
                            if alias.name in ENVIRONMENT_READS)
    problems.extend((node.lineno, f"reads os.{node.attr}") for node in ast.walk(tree)
                    if isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT_READS
                    and isinstance(node.value, ast.Name) and node.value.id in os_names)
    return [f"{module.name}:{line} {what}" for line, what in sorted(problems)]


def tree_modules(root: Path = ROOT) -> Iterator[Module]:
    """Every module of the three packages."""
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            yield Module(name, path.read_text(encoding="utf-8"), is_package)


# --- the tree ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def modules() -> list[Module]:
    return list(tree_modules())


@pytest.fixture(scope="module")
def exported(modules: list[Module]) -> dict[str, set[str]]:
    facades = {m.name: m for m in modules if m.is_package and m.name.count(".") == 1
               and m.name.startswith("trivia_actors.")}
    return {name: facade_exports(facade)[0] for name, facade in facades.items()}


def test_the_subsystem_packages_exist_each_with_a_facade(modules: list[Module]) -> None:
    facades = {m.name for m in modules if m.is_package}
    missing = [f"trivia_actors.{name}" for name in SUBSYSTEMS if f"trivia_actors.{name}" not in facades]
    assert not missing, f"subsystem packages without an __init__.py: {missing}"


def test_imports_point_one_way(modules: list[Module]) -> None:
    problems = [problem for module in modules for problem in direction_violations(module)]
    assert not problems, "gateways -> trivia_actors -> schema only:\n" + "\n".join(problems)


def test_each_subsystem_imports_only_what_the_map_allows(modules: list[Module]) -> None:
    problems = [problem for module in modules for problem in map_violations(module)]
    assert not problems, "against the map in docs/design-notes.md:\n" + "\n".join(problems)


def test_checker_reports_a_subsystem_import_the_map_does_not_allow() -> None:
    session = Module("trivia_actors.session.fake", "from trivia_actors.kafka import Completion\n"
                                                   "from trivia_actors.rules import Phase\nimport schema.db\n")
    assert map_violations(session) == [
        "trivia_actors.session.fake:1 imports trivia_actors.kafka (session may import: rules, runtime)"]
    rules = Module("trivia_actors.rules.fake", "def f():\n    from trivia_actors.worker import GameStore\n")
    assert map_violations(rules) == [
        "trivia_actors.rules.fake:2 imports trivia_actors.worker (rules may import: no other subsystem)"]
    assert map_violations(Module("gateways.fake", "from trivia_actors.worker import GameStore\n")) == []


def test_other_packages_import_a_subsystem_only_through_its_facade(modules: list[Module],
                                                                   exported: dict[str, set[str]]) -> None:
    problems = [problem for module in modules if not module.name.startswith("schema")
                for problem in facade_violations(module, exported)]
    assert not problems, "\n".join(problems)


def test_no_two_modules_import_each_other(modules: list[Module]) -> None:
    pairs = mutual_imports(modules)
    assert not pairs, "modules importing each other:\n" + "\n".join(pairs)


def test_every_facade_declares_all_and_defines_each_name(modules: list[Module]) -> None:
    facades = [m for m in modules if m.is_package and m.name.count(".") == 1 and m.name.startswith("trivia_actors.")]
    problems = [problem for facade in facades for problem in facade_exports(facade)[1]]
    assert not problems, "\n".join(problems)


def test_only_the_settings_module_reads_the_environment(modules: list[Module]) -> None:
    problems = [problem for module in modules if module.name not in SETTINGS_MODULES
                for problem in environment_reads(module)]
    assert not problems, ("read the environment once, in trivia_actors/runtime/settings.py (load_settings, or "
                          "inherited_environment to pass it on to a child process):\n" + "\n".join(problems))


# --- the checker on synthetic modules ---------------------------------------------------------------------


def test_checker_reports_an_engine_module_that_imports_gateways() -> None:
    engine = Module("trivia_actors.session.fake", "from gateways.telegram.bot import BotHandlers\n")
    assert direction_violations(engine) == ["trivia_actors.session.fake:1 imports gateways.telegram.bot"]
    late = Module("trivia_actors.rules.fake", "def f():\n    import gateways\n")
    assert direction_violations(late) == ["trivia_actors.rules.fake:2 imports gateways"]


def test_checker_reports_schema_importing_the_engine_or_gateways() -> None:
    schema = Module("schema.fake", "import trivia_actors.rules\nfrom gateways import bridge\nimport peewee\n")
    assert direction_violations(schema) == ["schema.fake:1 imports trivia_actors.rules",
                                            "schema.fake:2 imports gateways"]
    assert direction_violations(Module("gateways.fake", "import trivia_actors.rules\nimport schema.db\n")) == []


def test_checker_reports_a_private_module_reached_from_outside_its_subsystem() -> None:
    exported = {"trivia_actors.kafka": {"EventProducer"}, "trivia_actors.session": {"MarkSent"}}
    outside = Module("gateways.fake", "from trivia_actors.kafka.bridge import ConsumerBridgeActor\n"
                                      "import trivia_actors.session.store\n"
                                      "from trivia_actors.kafka import EventProducer, clients\n")
    assert facade_violations(outside, exported) == [
        "gateways.fake:1 imports the private trivia_actors.kafka.bridge; use trivia_actors.kafka",
        "gateways.fake:2 imports the private trivia_actors.session.store; use trivia_actors.session",
        "gateways.fake:3 imports clients from trivia_actors.kafka, which its __all__ does not export",
    ]
    other_subsystem = Module("trivia_actors.worker.fake", "from trivia_actors.kafka.clients import make_consumer\n")
    assert len(facade_violations(other_subsystem, exported)) == 1
    inside = Module("trivia_actors.kafka.fake", "from trivia_actors.kafka.bridge import ConsumerBridgeActor\n")
    assert facade_violations(inside, exported) == []


def test_checker_reports_two_modules_importing_each_other() -> None:
    a = Module("trivia_actors.worker.a", "from trivia_actors.worker.b import B\n")
    b = Module("trivia_actors.worker.b", "from trivia_actors.worker import a\n")
    facade = Module("trivia_actors.worker", "from trivia_actors.worker.a import A\n", is_package=True)
    assert mutual_imports([a, b, facade]) == ["trivia_actors.worker.a <-> trivia_actors.worker.b"]
    typing_only = Module("trivia_actors.worker.b", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                                   "    from trivia_actors.worker.a import A\n")
    deferred = Module("trivia_actors.worker.b", "def f():\n    from trivia_actors.worker.a import A\n")
    assert mutual_imports([a, typing_only]) == []
    assert mutual_imports([a, deferred]) == []
    own_facade = Module("trivia_actors.worker.a", "from trivia_actors.worker import A\n")
    assert mutual_imports([own_facade, facade]) == ["trivia_actors.worker <-> trivia_actors.worker.a"]
    sibling = Module("trivia_actors.worker.a", "from trivia_actors.worker import c\n")
    c = Module("trivia_actors.worker.c", "X = 1\n")
    assert mutual_imports([sibling, c, facade]) == [], "from a package import a submodule needs only the submodule"


def test_checker_reports_a_facade_without_all_or_with_an_undefined_name() -> None:
    assert facade_exports(Module("trivia_actors.x", "from trivia_actors.x.a import A\n", True))[1] == [
        "trivia_actors.x has no __all__"]
    wrong = Module("trivia_actors.x", "from trivia_actors.x.a import A\nB = 1\n__all__ = ['A', 'B', 'C']\n", True)
    assert facade_exports(wrong) == ({"A", "B", "C"},
                                     ["trivia_actors.x: __all__ names 'C', which it does not define"])


def test_checker_reports_each_way_of_reading_the_environment() -> None:
    source = ("import os\nimport os as system\nfrom os import getenv, path\n"
              "a = os.environ['A']\nb = os.getenv('B')\nc = system.environ.get('C')\nd = path.join('x')\n")
    assert environment_reads(Module("gateways.fake", source)) == [
        "gateways.fake:3 imports os.getenv",
        "gateways.fake:4 reads os.environ",
        "gateways.fake:5 reads os.getenv",
        "gateways.fake:6 reads os.environ",
    ]
    assert environment_reads(Module("gateways.fake", "import os\nos.makedirs('x')\n")) == []
