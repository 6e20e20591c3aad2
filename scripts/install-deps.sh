#!/usr/bin/env bash
# Install what astro-jobs needs on Debian/Ubuntu, then the package itself into
# a virtual environment of the checkout (never into the system Python, which
# Debian 12 and Ubuntu 23.04+ mark as externally managed, PEP 668).
#
#   scripts/install-deps.sh          what `make demo` needs
#   scripts/install-deps.sh --test   also what the test suite needs
#
# System packages: astrometry.net with the Tycho-2 index files, exiftool,
# netpbm, redis-server, python3-venv (and faketime, chromium and its driver,
# openssl, systemd-analyze for the tests). The venv is made by the system python3 (/usr/bin/python3,
# whatever else is first on PATH) at $ASTRO_JOBS_VENV (default: .venv).
# Idempotent and quick when all is present. Root, or a user with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

test_deps=false
[ "${1:-}" = "--test" ] && test_deps=true
venv="${ASTRO_JOBS_VENV:-.venv}"
system_python="${ASTRO_JOBS_PYTHON:-/usr/bin/python3}"
[ -x "$system_python" ] || system_python="$(command -v python3)"

# Tycho-2 index files 07 (fields of 0.3-0.7 degree) to 19.
packages=(astrometry.net astrometry-data-tycho2-07-littleendian
          astrometry-data-tycho2-08-littleendian astrometry-data-tycho2-09-littleendian
          astrometry-data-tycho2-10-19-littleendian
          libimage-exiftool-perl netpbm redis-server python3-venv)
if $test_deps; then
    packages+=(faketime chromium chromium-driver systemd openssl)  # browser, HTTPS and unit tests
fi

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# Ubuntu ships Chromium as a snap; its apt packages have other names.
alternative() {
    case "$1" in
        chromium) echo chromium-browser ;;
        chromium-driver) echo chromium-chromedriver ;;
    esac
}

has_candidate() {
    apt-cache policy "$1" 2>/dev/null | grep -q "Candidate: [^(]"
}

missing=()
for pkg in "${packages[@]}"; do
    installed "$pkg" || { alt=$(alternative "$pkg"); [ -n "$alt" ] && installed "$alt"; } \
        || missing+=("$pkg")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    wanted=()
    for pkg in "${missing[@]}"; do
        alt=$(alternative "$pkg")
        if ! has_candidate "$pkg" && [ -n "$alt" ] && has_candidate "$alt"; then
            pkg="$alt"
        fi
        wanted+=("$pkg")
    done
    echo "installing system packages: ${wanted[*]}" >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${wanted[@]}" >/dev/null
fi

# A venv whose interpreter is gone (the system Python was upgraded) is
# remade; a working one is reused.
if ! "$venv/bin/python" -c "import sys" 2>/dev/null; then
    echo "creating $venv with $system_python" >&2
    rm -rf "$venv"
    "$system_python" -m venv "$venv"
fi
extras="redis"
$test_deps && extras="redis,server,test"
# Always (re)install this checkout in editable mode: an editable install of
# another clone would otherwise shadow it in the consumer's processes.
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[$extras]"
