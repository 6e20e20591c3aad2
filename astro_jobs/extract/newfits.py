"""nova's new-image.fits: the input image with the solution's WCS in its header.

For a FITS input the pixel coordinates of the solution are those of the
data array as stored, so the WCS applies to the input's image HDU
unchanged; any WCS the header had before is removed first, or a reader
would mix the two. For a JPEG, PNG or TIFF the pixels become a FITS image
(``write_raster_fits``), as nova makes one for every input.
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
        header = _with_solution(hdu.header.copy(), solution)
        fits.PrimaryHDU(hdu.data, header=_primary(header)).writeto(out_path, overwrite=True)
    return out_path


def write_raster_fits(image_path, wcs_path, out_path):
    """A JPEG, PNG or TIFF as a FITS image whose header holds the solution.

    The pixels are those the solver saw: EXIF orientation applied, rows in
    the order they are stored (the top row first, as nova's an-pnmtofits
    writes them), so the solution's pixel coordinates apply unchanged.
    Colour becomes one luminance plane; 16-bit and float data keep their
    values.
    """
    import numpy as np
    from astropy.io import fits
    from PIL import Image, ImageOps

    with Image.open(image_path) as picture:
        picture.load()
        picture = ImageOps.exif_transpose(picture)
        if picture.mode in ("I;16", "I;16B", "I;16L"):
            data = np.asarray(picture, dtype=np.uint16)
        elif picture.mode in ("I", "F"):
            data = np.asarray(picture, dtype=np.float32 if picture.mode == "F" else np.int32)
        else:
            data = np.asarray(picture.convert("L"), dtype=np.uint8)
    header = _with_solution(fits.Header(), fitsfile.header_cards(wcs_path))
    fits.PrimaryHDU(data, header=header).writeto(out_path, overwrite=True)
    return out_path


def _with_solution(header, solution):
    """``header`` without any WCS it had, with the solution's cards instead."""
    for key in [k for k in header if _OLD_WCS.match(k)]:
        del header[key]
    for key, value in solution.items():
        if key not in _SKIP and not key.startswith("NAXIS"):
            header[key] = value
    header.add_history("WCS from astro-jobs (astrometry.net solve-field)")
    return header


def _primary(header):
    for key in ("XTENSION", "PCOUNT", "GCOUNT"):
        if key in header:
            del header[key]
    return header
