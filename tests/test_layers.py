"""Every import in the package against its layer rule (ARCHITECTURE.md section 2).

Each package states its rule in its `__init__.py` as `LAYER`: the project modules it may import
(besides itself) and the third-party packages it must not, with the modules excepted. Imports are
read with `ast`, not by importing, so a rule holds for code that never runs in the tests, imports
inside functions and under TYPE_CHECKING included.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cds_service"


@dataclass(frozen=True)
class Layer:
    package: str
    imports: tuple[str, ...] = ()
    """Project modules (or packages, by prefix) it may import besides itself."""
    forbidden: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Third-party top-level packages it must not import -> the modules excepted."""


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(module: str, imported: Iterable[str], layer: Layer) -> list[str]:
    """What `module`, in `layer`'s package, imports against the rule."""
    found = []
    for name in imported:
        if _within(name, "cds_service"):
            if name == "cds_service" or _within(name, layer.package):
                continue
            if not any(_within(name, allowed) for allowed in layer.imports):
                found.append(f"{module} imports {name}")
        else:
            top = name.split(".")[0]
            excepted = layer.forbidden.get(top)
            if excepted is not None and module not in excepted:
                found.append(f"{module} imports {top}")
    return found


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(source: str, module: str, is_package: bool = False) -> Iterator[str]:
    """Every module a source imports: `from a import b` counts as `a.b` when that is a module."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if _is_module(candidate) else base


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def declared_layer(package_dir: Path) -> Layer | None:
    for node in ast.parse((package_dir / "__init__.py").read_text("utf-8")).body:
        if isinstance(node, ast.Assign) and [
            t.id for t in node.targets if isinstance(t, ast.Name)
        ] == ["LAYER"]:
            rule = ast.literal_eval(node.value)
            return Layer(
                module_name(package_dir / "__init__.py"),
                tuple(rule.get("imports", ())),
                {name: tuple(excepted) for name, excepted in rule.get("forbidden", {}).items()},
            )
    return None


PACKAGES = sorted(p.parent for p in PACKAGE.glob("*/__init__.py"))


@pytest.mark.parametrize("package_dir", PACKAGES, ids=lambda p: p.name)
def test_every_import_keeps_its_packages_layer_rule(package_dir: Path) -> None:
    layer = declared_layer(package_dir)
    assert layer is not None, f"{package_dir.name}/__init__.py states no LAYER rule"
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        module = module_name(path)
        source = path.read_text("utf-8")
        found += violations(module, imports_of(source, module, path.name == "__init__.py"), layer)
    assert found == []


def test_no_package_imports_the_composition_modules() -> None:
    """app, cli, alp_services and the like wire the packages; the packages never reach up."""
    composition = {
        module_name(p)
        for p in PACKAGE.glob("*.py")
        if p.stem not in {"__init__", "strict_json", "settings"}
    }
    for package_dir in PACKAGES:
        layer = declared_layer(package_dir)
        assert layer is not None
        assert not [m for m in layer.imports if m in composition], layer


# --- the check itself fails on a violating import ---------------------------------------------

CLINICAL = Layer(
    "cds_service.clinical",
    ("cds_service.knowledge", "cds_service.fhir.values"),
    {"flask": (), "werkzeug": ()},
)
HOOKS = Layer(
    "cds_service.hooks",
    ("cds_service.fhir",),
    {"flask": ("cds_service.hooks.blueprint",)},
)


def test_a_synthetic_module_breaking_its_rule_is_caught() -> None:
    source = """
from __future__ import annotations
import json
from typing import TYPE_CHECKING
from flask import request
from cds_service.clinical import facts
from cds_service.knowledge.model import Rule
from cds_service.fhir.values import as_list
from . import record

if TYPE_CHECKING:
    from cds_service.hooks.response import Card

def late() -> None:
    import werkzeug.exceptions
    from cds_service.render.cards import render
"""
    imported = list(imports_of(source, "cds_service.clinical.synthetic"))
    assert "cds_service.clinical.record" in imported  # relative imports resolve
    assert violations("cds_service.clinical.synthetic", imported, CLINICAL) == [
        "cds_service.clinical.synthetic imports flask",
        "cds_service.clinical.synthetic imports cds_service.hooks.response",
        "cds_service.clinical.synthetic imports werkzeug",
        "cds_service.clinical.synthetic imports cds_service.render.cards",
    ]


def test_an_exception_covers_only_the_module_it_names() -> None:
    flask_imports = ["flask", "cds_service.hooks.request"]
    assert violations("cds_service.hooks.blueprint", flask_imports, HOOKS) == []
    assert violations("cds_service.hooks.pipeline", flask_imports, HOOKS) == [
        "cds_service.hooks.pipeline imports flask"
    ]
    assert violations("cds_service.hooks.pipeline", ["cds_service.alp_services"], HOOKS) == [
        "cds_service.hooks.pipeline imports cds_service.alp_services"
    ]
    # A prefix names a package, not every module that starts with the same letters.
    assert violations("cds_service.hooks.x", ["cds_service.fhirish"], HOOKS) == [
        "cds_service.hooks.x imports cds_service.fhirish"
    ]
