"""nova's new-image.fits: the input FITS image with the solution's WCS in its header.

Pixel coordinates of the solution are those of the data array as stored,
so the WCS applies to the input's image HDU unchanged; any WCS the header
had before is removed first, or a reader would mix the two.
"""
import re
import warnings

from . import fitsfile

NAME = "new-image.fits"
# Keys of a celestial WCS (and SIP) that the old header may carry.
_OLD_WCS = re.compile(r"^(WCSAXES|CTYPE\d|CUNIT\d|CRVAL\d|CRPIX\d|CDELT\d|CROTA\d|CD\d_\d|PC\d_\d|"
                      r"PV\d_\d+|LONPOLE|LATPOLE|EQUINOX|EPOCH|RADESYS|RADECSYS|"
                      r"A_ORDER|B_ORDER|AP_ORDER|BP_ORDER|A_\d_\d|B_\d_\d|AP_\d_\d|BP_\d_\d|"
                      r"A_DMAX|B_DMAX|IMAGEW|IMAGEH)$")
_SKIP = {"SIMPLE", "BITPIX", "NAXIS", "EXTEND", "END", "COMMENT", "HISTORY", ""}


def write_new_fits(input_path, wcs_path, out_path):
    """Write the input's image HDU as a primary HDU whose header holds the solution."""
    from astropy.io import fits

    solution = fitsfile.header_cards(wcs_path)
    with fits.open(input_path, memmap=False) as hdus, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # odd legacy headers are the input's business
        hdu = next(h for h in hdus if h.data is not None and getattr(h, "is_image", False)
                   and h.data.ndim >= 2)
        header = hdu.header.copy()
        for key in [k for k in header if _OLD_WCS.match(k)]:
            del header[key]
        for key, value in solution.items():
            if key not in _SKIP and not key.startswith("NAXIS"):
                header[key] = value
        header.add_history("WCS from astro-jobs (astrometry.net solve-field)")
        fits.PrimaryHDU(hdu.data, header=_primary(header)).writeto(out_path, overwrite=True)
    return out_path


def _primary(header):
    for key in ("XTENSION", "PCOUNT", "GCOUNT"):
        if key in header:
            del header[key]
    return header
