"""The one stdlib FITS header reader that submit, the web face and the
extractor share, checked against astropy's writer."""
import io

import numpy as np
from astropy.io import fits

from astro_jobs.intake import fitsheader


def test_values_and_sizes_match_what_astropy_wrote():
    header = fits.Header()
    header["NAME"] = ("it's a/b", "a comment with / and '")
    header["FLAG"] = True
    header["COUNT"] = 42
    header["SCALE"] = 1.5e-3
    hdu = fits.ImageHDU(data=np.zeros((3, 5), dtype="int16"), header=header)
    data = fits.HDUList([fits.PrimaryHDU(), hdu])
    buffer = io.BytesIO()
    data.writeto(buffer)
    raw = buffer.getvalue()

    primary, start = fitsheader.parse(raw)
    assert start == fitsheader.BLOCK and primary["NAXIS"] == 0
    cards, data_start = fitsheader.parse(raw, start + fitsheader.padded(
        fitsheader.data_size(primary)))
    assert cards["NAME"] == "it's a/b" and cards["FLAG"] is True
    assert cards["COUNT"] == 42 and cards["SCALE"] == 1.5e-3
    assert fitsheader.data_size(cards) == 3 * 5 * 2
    assert data_start + fitsheader.padded(30) == len(raw)

    handle = io.BytesIO(raw)
    assert fitsheader.read(handle) == primary and handle.tell() == fitsheader.BLOCK


def test_a_header_cut_short_is_reported():
    raw = fits.PrimaryHDU().header.tostring().encode()
    assert fitsheader.parse(raw[:-fitsheader.BLOCK])[1] is None
    assert fitsheader.read(io.BytesIO(raw[:100])) is None
