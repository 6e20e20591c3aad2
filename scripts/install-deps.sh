#!/usr/bin/env bash
# Install what astro-jobs needs on Debian/Ubuntu: astrometry.net with the
# Tycho-2 index files (07 for fields of 0.3-0.7 degree), exiftool, redis-server
# (tests and multi-node), and the Python package with its extras. Idempotent
# and quick when all is present.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(astrometry.net astrometry-data-tycho2-07-littleendian
          astrometry-data-tycho2-08-littleendian astrometry-data-tycho2-09-littleendian
          astrometry-data-tycho2-10-19-littleendian
          libimage-exiftool-perl netpbm redis-server faketime
          chromium chromium-driver openssl)  # the web face's browser and HTTPS tests
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "installing system packages: ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# Always (re)install this checkout in editable mode: an editable install of
# another clone would otherwise shadow it in the consumer's processes.
python3 -m pip install -q --disable-pip-version-check -e ".[extract,redis,server,test]" \
    2> >(grep -v "Running pip as the 'root' user" >&2)
