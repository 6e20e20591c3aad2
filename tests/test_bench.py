"""The benchmarks' shape: each is a plain program run from the checkout
(`python bench/NAME.py`), importing what it shares with the tests from
harness/, never from tests/ through sys.path; each answers --help."""
import ast
import importlib.util
import io
import re
import subprocess
import sys

import pytest

from support import REPO

# bench/targets.py is the benches' shared verdicts, not a program.
BENCHES = sorted(p for p in (REPO / "bench").glob("*.py") if p.name != "targets.py")
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


# Programs in bench/ that are not benchmarks: nothing of theirs is judged.
HELPERS = {"naive_extractor.py"}


@pytest.mark.parametrize("path", [p for p in BENCHES if p.name not in HELPERS],
                         ids=lambda p: p.name)
def test_each_bench_judges_its_figures_with_targets_and_exits_by_them(path):
    """Verdicts come from bench/targets.py, and main's return (finish()'s
    code) is the exit status: no bench prints its own PASS or forgets to fail."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    assert "targets" in set(_imported_roots(tree)), f"{path.name} does not use bench/targets.py"
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    assert any(ast.unparse(call.func).endswith(".finish") for call in calls), \
        f"{path.name} never calls finish()"
    assert "sys.exit(main())" in map(ast.unparse, calls), \
        f"{path.name}: its exit status is not main()'s"
    assert "'PASS' if" not in text and '"PASS" if' not in text, \
        f"{path.name} prints a PASS of its own"


@pytest.mark.parametrize("path", BENCHES, ids=lambda p: p.name)
def test_each_bench_has_a_help_that_runs(path):
    proc = subprocess.run([sys.executable, f"bench/{path.name}", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage:"), proc.stdout
    assert "Traceback" not in proc.stderr


def _targets():
    spec = importlib.util.spec_from_file_location("targets", REPO / "bench" / "targets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verdicts_pass_only_when_every_target_is_measured_and_met():
    targets, out = _targets(), io.StringIO()
    verdicts = targets.Verdicts("bench/x.py", stream=out)
    assert verdicts.at_most("ratio", 1.2, 1.3) == "PASS"
    assert verdicts.at_least("rate", 130, 120, unit="/min") == "PASS"
    assert verdicts.equal("failed", 0, 0) == "PASS"
    assert verdicts.finish() == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "PASS          ratio: 1.200  target <= 1.300", lines
    assert lines[1] == "PASS          rate: 130 /min  target >= 120 /min", lines
    assert lines[-1] == "bench/x.py: 3 PASS, 0 FAIL, 0 NOT MEASURED: PASS", lines


@pytest.mark.parametrize("judge", [
    lambda v: v.at_most("ratio", 1.31, 1.3),
    lambda v: v.at_least("rate", 119.9, 120),
    lambda v: v.equal("failed", 1, 0),
    lambda v: v.at_most("ratio", None, 1.3),
    lambda v: v.at_most("ratio", float("nan"), 1.3),
    lambda v: v.not_measured("plain ratio", "<= 0.05", "--no-plain given"),
])
def test_a_fail_or_a_missing_figure_exits_non_zero(judge):
    targets, out = _targets(), io.StringIO()
    verdicts = targets.Verdicts("bench/x.py", stream=out)
    verdicts.at_most("fine", 1.0, 2.0)
    assert judge(verdicts) in ("FAIL", "NOT MEASURED")
    assert verdicts.finish() == 1
    assert out.getvalue().splitlines()[-1].endswith(": FAIL"), out.getvalue()
    assert "PASS" not in out.getvalue().splitlines()[1].split()[0]


def test_no_figure_at_all_is_a_failure():
    targets, out = _targets(), io.StringIO()
    assert targets.Verdicts("bench/x.py", stream=out).finish() == 1


ASTRO_IMPORT = re.compile(r"^\s*(from astro_jobs[\w.]* import [\w, ]+|import astro_jobs[\w.]*)")


def _astro_jobs_imports(tree):
    """Every astro_jobs import a bench makes, in its code or in the Python it
    hands to a child interpreter (a string)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            line = ast.unparse(node)
            if ASTRO_IMPORT.match(line):
                yield line
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for line in node.value.splitlines():
                found = ASTRO_IMPORT.match(line)
                if found:
                    yield found.group(1).strip()


def test_what_the_benches_import_from_astro_jobs_exists():
    """A module that moved must not leave a bench dying at its start."""
    lines = sorted({line for path in BENCHES
                    for line in _astro_jobs_imports(ast.parse(path.read_text()))})
    assert any("runner" in line for line in lines), lines  # the child snippets are seen
    proc = subprocess.run([sys.executable, "-c", "\n".join(lines)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (lines, proc.stderr)
