"""The library's shape: no CLI in it, small functions and classes."""
import ast

from support import REPO


def _definitions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node


def test_library_functions_and_classes_stay_small():
    too_long = []
    for path in sorted((REPO / "astro_jobs").rglob("*.py")):
        for node in _definitions(ast.parse(path.read_text(encoding="utf-8"))):
            limit = 120 if isinstance(node, ast.ClassDef) else 40
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                too_long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} "
                                f"({length} lines > {limit})")
    assert too_long == []


def test_only_the_cli_imports_click_or_builds_the_envelope():
    offenders = []
    for path in sorted((REPO / "astro_jobs").rglob("*.py")):
        if path.name == "cli.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "import click" in text or '"ok":' in text:
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
