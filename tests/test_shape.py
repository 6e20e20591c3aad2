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


# -- package boundaries ---------------------------------------------------------
# Which part of astro_jobs may import which (a part: a sub-package, or a module
# at the top). Arrows point down: the table has no cycle, so nothing imports
# what imports it. The client side (what `submit`, `status` and the web face
# run) never imports the runner, notify or the consumer.
LEAVES = {"errors", "timefmt", "config", "identity", "process"}
MAY_IMPORT = {
    "errors": set(),
    "timefmt": {"errors"},
    "config": {"errors", "timefmt"},
    "identity": set(),
    "process": set(),
    "wakeup": set(),
    "intake": LEAVES,
    "store": LEAVES,
    "queue": LEAVES | {"store", "wakeup"},
    "extract": LEAVES | {"intake", "store"},
    "notify": LEAVES | {"store", "intake"},
    "runner": LEAVES | {"store", "intake", "extract", "notify", "queue"},
    "report": LEAVES | {"store", "queue", "extract", "runner"},
    "api": LEAVES | {"intake", "store", "queue", "report"},
    "web": LEAVES | {"api", "intake"},
    "cli": LEAVES | {"__init__", "api", "intake", "report", "web"},  # __version__
    "consumer": LEAVES | {"queue", "runner", "store"},
    "__init__": {"api", "errors"},
    "__main__": {"cli"},
}
CLIENT_SIDE = ("intake", "store", "queue", "api", "web", "cli")
CONSUMER_SIDE = {"runner", "notify", "consumer"}
# Single modules allowed across a line the table draws, each with its reason.
EXCEPTIONS = {
    # new-image.fits of a solved JPEG/PNG/TIFF, built on request as nova does
    ("web", "astro_jobs.extract.newfits"),
    # nova's .xyls star-list uploads, read by the extractor's FITS table reader
    ("web", "astro_jobs.extract.fitsfile"),
}


def _part(name):
    """``astro_jobs.store.jobdir`` -> ``store``; ``astro_jobs`` (or a name defined
    in its ``__init__``, such as ``__version__``) -> ``__init__``."""
    parts = name.split(".")
    if len(parts) == 1 or not ((REPO / "astro_jobs" / parts[1]).is_dir()
                               or (REPO / "astro_jobs" / f"{parts[1]}.py").is_file()):
        return "__init__"
    return parts[1]


def _imports(path):
    """(line, full name) of each astro_jobs module or name one file imports."""
    module = ".".join(path.relative_to(REPO).with_suffix("").parts)
    package = module.removesuffix(".__init__") if path.name == "__init__.py" else \
        module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        yield from ((node.lineno, name) for name in names if name.startswith("astro_jobs"))


def test_package_boundaries_follow_the_table():
    crossings = []
    for path in sorted((REPO / "astro_jobs").rglob("*.py")):
        mine = _part(".".join(path.relative_to(REPO).with_suffix("").parts))
        for line, name in _imports(path):
            theirs = _part(name)
            if theirs == mine or theirs in MAY_IMPORT[mine] or any(
                    mine == who and name.startswith(allowed) for who, allowed in EXCEPTIONS):
                continue
            crossings.append(f"{path.relative_to(REPO)}:{line} {mine} -> {name}")
    assert crossings == []


def test_the_boundary_table_points_down_and_keeps_the_client_off_the_runner():
    """A topological order of the parts exists (no cycle), and no client part may
    import the consumer's side (tests/test_imports.py checks what really loads)."""
    order, left = set(), dict(MAY_IMPORT)
    while left:
        ready = [part for part, needs in left.items() if needs <= order]
        assert ready, f"a cycle among {sorted(left)}"
        order.update(ready)
        for part in ready:
            del left[part]
    assert {part: MAY_IMPORT[part] & CONSUMER_SIDE for part in CLIENT_SIDE} == \
        dict.fromkeys(CLIENT_SIDE, set())
