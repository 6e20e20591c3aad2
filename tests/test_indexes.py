"""Which index files solve-field would load, and the field widths they solve."""
import math
import subprocess
import sys

from astropy.io import fits

from astro_jobs.extract import indexes

from support import REPO


def write_index(path, quad_min_arcmin, quad_max_arcmin):
    """A FITS file carrying an index header's scale cards (the engine reads these)."""
    header = fits.Header()
    header["SCALE_L"] = math.radians(quad_min_arcmin / 60.0)
    header["SCALE_U"] = math.radians(quad_max_arcmin / 60.0)
    fits.PrimaryHDU(header=header).writeto(path)
    return str(path)


def test_the_system_install_is_read_from_the_headers():
    found = indexes.installed()
    assert found.files, "no astrometry.net index files installed (scripts/install-deps.sh)"
    # scripts/install-deps.sh installs 07 for fields of 0.3-0.7 degree.
    assert any("tycho2-07" in path for path in found.files)
    lows, highs = [], []
    for path in found.files:
        header = fits.getheader(path)
        lows.append(math.degrees(header["SCALE_L"]))
        highs.append(math.degrees(header["SCALE_U"]))
    low, high = found.width_range_deg
    assert low == round(min(lows) / math.sqrt(2), 3)
    assert high == round(max(highs), 3)
    assert 0.2 < low < 0.35 and high > 30


def test_config_lines_are_followed(tmp_path):
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    named = write_index(shelf / "index-a.fits", 22, 30)
    write_index(shelf / "index-b.fits", 60, 85)   # not named, no autoindex: not loaded
    fits.PrimaryHDU().writeto(other / "plain.fits")  # a FITS file that is no index
    absolute = write_index(other / "index-c.fits", 1000, 1400)
    config = tmp_path / "astrometry.cfg"
    config.write_text("# comment\nadd_path %s\nindex index-a\nindex %s\nindex %s\n"
                      % (shelf, absolute, other / "plain.fits"))
    found = indexes.installed(str(config))
    assert found.files == [named, absolute]
    assert found.width_range_deg == (round(22 / 60 / math.sqrt(2), 3), round(1400 / 60, 3))

    config.write_text("add_path %s\nadd_path %s\nautoindex\n" % (shelf, other))
    found = indexes.installed(str(config))
    assert [p.rsplit("/", 1)[1] for p in found.files] == ["index-a.fits", "index-b.fits",
                                                          "index-c.fits"]
    assert found.indexes[1].quad_min_arcsec == 60 * 60


def test_no_index_means_no_range(tmp_path):
    config = tmp_path / "astrometry.cfg"
    config.write_text("add_path %s\nautoindex\n" % tmp_path)
    found = indexes.installed(str(config))
    assert found.files == [] and found.width_range_deg is None


def test_cheap_import():
    code = ("import sys; from astro_jobs.extract import indexes; indexes.installed();"
            "print(sorted(m for m in ('numpy', 'astropy', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
