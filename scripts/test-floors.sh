#!/usr/bin/env bash
# What pyproject.toml claims is supported is tested:
#   - the oldest versions it allows (constraints/oldest.txt) on the oldest
#     Python it allows (3.10, Ubuntu 22.04's);
#   - the newest releases on the newer Pythons it lists (3.12, 3.13); the
#     full suite runs on the system Python (3.11 on Debian 12) in make test.
# Each in its own venv (.venv-floors-X.Y), running the tests of the CLI, the
# API, consumers, the registry, doctor, Redis, the bundled extractor and
# the HTTP face (the `server` extra).
# A missing interpreter fails the run: nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

tests=(tests/test_cli.py tests/test_api.py tests/test_consumer.py tests/test_consumers.py
       tests/test_doctor.py tests/test_redis.py tests/test_end_to_end.py tests/test_extract.py
       tests/test_web.py tests/test_hostile.py)

find_python() {
    local version=$1 prefix
    if command -v "python$version" >/dev/null 2>&1 && "python$version" -c "" 2>/dev/null; then
        command -v "python$version"
        return
    fi
    # pyenv, where the machine has it (CI passes its path: PATH is narrowed there).
    local pyenv="${ASTRO_JOBS_PYENV:-$(type -P pyenv || true)}"
    if [ -n "$pyenv" ] && prefix=$("$pyenv" prefix "$version" 2>/dev/null) \
            && [ -x "$prefix/bin/python$version" ]; then
        echo "$prefix/bin/python$version"
        return
    fi
    # pyenv's versions folder without the pyenv command on PATH, or under
    # the root the pyenv command lives in (HOME may be another user's).
    local roots=("${PYENV_ROOT:-$HOME/.pyenv}") root
    [ -z "$pyenv" ] || roots+=("$(dirname "$(dirname "$pyenv")")")
    for root in "${roots[@]}"; do
        for prefix in "$root"/versions/"$version".*; do
            if [ -x "$prefix/bin/python$version" ]; then
                echo "$prefix/bin/python$version"
                return
            fi
        done
    done
    echo "test-floors: no Python $version here (python$version on PATH, or pyenv)" >&2
    return 1
}

run() {  # run VERSION [pip constraint args...]
    local version=$1 python venv
    shift
    python=$(find_python "$version") || return 1
    venv=".venv-floors-$version"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" \
        -e ".[redis,server]" pytest honcho httpx
    echo "== Python $version: $("$venv/bin/python" -m pip freeze --disable-pip-version-check \
        | grep -iE '^(click|huey|filelock|numpy|astropy|pillow|redis|starlette|uvicorn|jinja2|werkzeug)==' \
        | tr '\n' ' ')" >&2
    PATH="$PWD/$venv/bin:$PATH" "$venv/bin/python" -m pytest -q -p no:cacheprovider "${tests[@]}"
}

case "${1:-all}" in
    oldest) run 3.10 -c constraints/oldest.txt ;;
    newest) run 3.12 --upgrade && run 3.13 --upgrade ;;
    all) run 3.10 -c constraints/oldest.txt && run 3.12 --upgrade && run 3.13 --upgrade ;;
    *) echo "usage: $0 [oldest|newest|all]" >&2; exit 2 ;;
esac
