"""The package's layers, as docs/development.md draws them: no import runs back up.

Read from the source (every import, those inside functions and under
``TYPE_CHECKING`` too), so a circle cannot come back through a lazy import;
then checked once at run time, by what importing the REST API loads.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "support"

#: Bottom first. A module may import modules of its own layer or of those below it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # imports nothing of support
    ("leaves", ("support.version", "support.scope", "support.cursors", "support.sniff")),
    ("settings", ("support.conf",)),
    (
        "core",
        (
            "support.models",
            "support.exceptions",
            "support.actors",
            "support.botkeys",
            "support.checks",
            "support.sqlite",
            "support.sharedcache",
            "support.db",
            "support.error_bodies",
            "support.serializers",
            "support.inputs",
            "support.attachments",
            "support.events",
            "support.credentials",
            "support.plain_views",
            "support.ratelimit",
            "support.telegram_links",
            "support.profiles",
            "support.services",
            "support.notes",
            "support.blocking",
            "support.ratings",
            "support.edits",
            "support.stats",
        ),
    ),
    (
        "edges",
        (
            "support.api",
            "support.realtime",
            "support.admin",
            "support.console",
            "support.management",
        ),
    ),
    ("wiring", ("support.urls", "support.asgi", "support.apps", "support")),
)

#: Edges that stand side by side: neither imports the other.
SIDE_BY_SIDE = ("support.api", "support.realtime")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.parts
    }


MODULES = source_modules()


def imported(name: str, path: Path) -> Iterator[str]:
    """The ``support`` modules *name* imports (``from support import x`` names ``support.x``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target == "support" or target.startswith("support."):
                yield target


GRAPH = {name: set(imported(name, path)) - {name} for name, path in MODULES.items()}


def layer_of(name: str) -> tuple[int, str]:
    best: tuple[int, int, str] | None = None  # the longest matching prefix wins
    for rank, (layer, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = name == prefix or name.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[1]):
                best = (rank, len(prefix), layer)
    assert best is not None, f"{name} is in no layer of LAYERS: add it"
    return best[0], best[2]


def edges() -> list[tuple[str, str]]:
    return sorted((source, target) for source, targets in GRAPH.items() for target in targets)


def test_every_module_has_a_layer():
    for name in MODULES:
        layer_of(name)


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{source} ({layer_of(source)[1]}) imports {target} ({layer_of(target)[1]})"
        for source, target in edges()
        if layer_of(target)[0] > layer_of(source)[0]
    ]
    assert not upward


def test_the_leaves_import_nothing_of_support():
    leaves = LAYERS[0][1]
    assert {name: GRAPH[name] for name in leaves if GRAPH[name]} == {}


def test_the_rest_api_and_the_realtime_transports_stand_side_by_side():
    def within(name: str, prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    crossing = [
        f"{source} imports {target}"
        for source, target in edges()
        for mine in SIDE_BY_SIDE
        for other in SIDE_BY_SIDE
        if mine != other and within(source, mine) and within(target, other)
    ]
    assert not crossing


def test_no_module_imports_another_in_a_circle():
    # A package's __init__ is imported by its submodules implicitly, not by an
    # import statement, so only written imports make edges here.
    try:
        tuple(TopologicalSorter(GRAPH).static_order())
    except CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_the_graph_sees_the_imports_inside_functions():
    # support.asgi imports the realtime layer inside its functions: the check must see it.
    assert "support.realtime.hub" in GRAPH["support.asgi"]


def test_importing_the_rest_api_loads_neither_the_asgi_root_nor_the_transports():
    code = (
        "import sys, django\n"
        "django.setup()\n"
        "import support.api.urls, support.api.views\n"
        "loaded = sorted(m for m in sys.modules\n"
        "                if m.startswith('support.realtime') or m == 'support.asgi')\n"
        "assert not loaded, loaded\n"
        "import support.urls\n"  # which mounts the API and the event streams together
        "assert 'support.realtime.longpoll' in sys.modules\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
