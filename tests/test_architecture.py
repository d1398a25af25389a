"""Dependencies between the apps point one way: down to traps, and down to accounts below it.

accounts (accounts, roles, tokens, audit, location privacy) is the ground
floor: it imports none of the registry's other apps. traps imports nothing
from the apps built on it. Every import counts, inside functions too, and
so do the migrations.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

ABOVE_ACCOUNTS = {"traps", "leopards", "census", "exchange", "demo"}
ABOVE_TRAPS = {"leopards", "census", "exchange", "demo"}
# leopards and census stand side by side above traps: leopards may not reach up to
# census, nor either of them to the apps that span them all.
ABOVE_LEOPARDS = {"census", "exchange", "demo"}
ABOVE_CENSUS = {"exchange", "demo"}


def imported_packages(path: Path) -> set[tuple[int, str]]:
    """Return (line, top-level package) for every absolute import in a module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {(node.lineno, alias.name.split(".")[0]) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.lineno, node.module.split(".")[0]))
    return found


def imports_of(app: str, forbidden: set[str], leave_out: set[Path] = frozenset()) -> list[str]:
    modules = [
        path
        for path in sorted((ROOT / app).rglob("*.py"))
        if not any(path == out or out in path.parents for out in leave_out)
    ]
    assert modules, f"no modules found in {app}/"
    return [
        f"{path.relative_to(ROOT)}:{line} imports {package}"
        for path in modules
        for line, package in sorted(imported_packages(path))
        if package in forbidden
    ]


def test_accounts_imports_no_app_above_it():
    assert imports_of("accounts", ABOVE_ACCOUNTS) == []


def test_traps_imports_no_app_above_it():
    assert imports_of("traps", ABOVE_TRAPS) == []


def test_leopards_and_census_import_neither_exchange_nor_the_demo():
    assert imports_of("leopards", ABOVE_LEOPARDS) == []
    assert imports_of("census", ABOVE_CENSUS) == []


def test_exchange_does_not_import_the_demo():
    assert imports_of("exchange", {"demo"}) == []


@pytest.mark.parametrize(
    "source",
    [
        "from traps.models import Park\n",
        "import leopards.models\n",
        "def f():\n    from census import selectors\n",
    ],
)
def test_an_import_from_above_is_found(tmp_path, source):
    module = tmp_path / "module.py"
    module.write_text(source)
    assert {package for _, package in imported_packages(module)} & ABOVE_ACCOUNTS
