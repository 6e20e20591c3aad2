"""docs/development.md's map names every module of astro_jobs/, and nothing
that is not there."""
import re

from support import REPO


def mapped_modules():
    """Paths (relative to astro_jobs/) that the map's tree names, from its
    indentation: two spaces a level, a folder ending in '/'."""
    text = (REPO / "docs" / "development.md").read_text(encoding="utf-8")
    block = text.split("    astro_jobs/\n", 1)[1].split("\n\n", 1)[0]
    found, folders = set(), []
    for line in block.splitlines():
        match = re.match(r"( +)(\S+)", line)
        depth = (len(match.group(1)) - 6) // 2
        if depth < 0:
            break  # back at the top of the checkout (tasks.py, tests/, ...)
        name = match.group(2)
        folders[depth:] = []
        if name.endswith("/"):
            folders.append(name)
        else:
            found.add("".join(folders) + name)
    return found


def test_the_map_matches_the_tree():
    package = REPO / "astro_jobs"
    actual = {str(path.relative_to(package)) for path in package.rglob("*.py")
              if path.name != "__init__.py" or path.parent == package}
    assert mapped_modules() == actual
