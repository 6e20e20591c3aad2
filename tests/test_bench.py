"""The benchmarks' shape: each is a plain program run from the checkout
(`python bench/NAME.py`), importing what it shares with the tests from
harness/, never from tests/ through sys.path; each answers --help."""
import ast
import subprocess
import sys

import pytest

from support import REPO

BENCHES = sorted((REPO / "bench").glob("*.py"))
# What tests/ holds as importable modules: a bench reaching for them goes
# through tests/ on sys.path.
TESTS_MODULES = {"tests", "support", "skyfield", "conftest", "stand_in_extractor"} | {
    path.stem for path in (REPO / "tests").glob("*.py")}


def _imported_roots(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def _path_edits(tree):
    """The calls that change sys.path (sys.path.insert/append/extend)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and ast.unparse(node.func.value) == "sys.path":
            yield node


def test_benches_exist():
    assert len(BENCHES) >= 9, BENCHES


@pytest.mark.parametrize("path", BENCHES + sorted((REPO / "harness").glob("*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_bench_or_harness_imports_tests(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    reached = sorted(set(_imported_roots(tree)) & TESTS_MODULES)
    assert reached == [], f"{path.name} imports {reached} from tests/"
    for call in _path_edits(tree):
        words = {node.value for node in ast.walk(call) if isinstance(node, ast.Constant)}
        assert not any("tests" in str(word) for word in words), \
            f"{path.name}:{call.lineno} puts tests/ on sys.path: {ast.unparse(call)}"


@pytest.mark.parametrize("path", BENCHES, ids=lambda p: p.name)
def test_each_bench_has_a_help_that_runs(path):
    proc = subprocess.run([sys.executable, f"bench/{path.name}", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage:"), proc.stdout
    assert "Traceback" not in proc.stderr
