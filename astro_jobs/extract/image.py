"""Read any supported sky image into a grey array plus a displayable preview.

Everything downstream (star detection, annotation) works from what this
module returns, so rotated, mirrored, re-encoded or converted copies of an
image all reach the solver the same way.
"""
import hashlib
import os

import numpy as np

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz")


class UnreadableImage(Exception):
    """The file is not an image we can read: not a sky image at all."""


class SkyImage:
    """Pixels and facts about one input image.

    ``grey`` is a 2-D array with row 0 at the top of ``preview``; pixel
    coordinates in the result refer to this array (for FITS, to the data
    array as stored, i.e. FITS pixel - 1).
    """

    def __init__(self, path, fmt, grey, preview, bits, channels, header=None):
        self.path = path
        self.format = fmt
        self.grey = grey
        self.preview = preview
        self.bits = bits
        self.channels = channels
        self.header = header

    @property
    def height(self):
        return int(self.grey.shape[0])

    @property
    def width(self):
        return int(self.grey.shape[1])

    def info(self):
        return {
            "file": os.path.basename(self.path),
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "sha256": sha256_of(self.path),
            "bits_per_sample": self.bits,
            "channels": self.channels,
        }


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_image(path):
    if not os.path.isfile(path):
        raise UnreadableImage("image not found: %s" % path)
    if _looks_like_fits(path):
        return _read_fits(path)
    return _read_raster(path)


def _looks_like_fits(path):
    if path.lower().endswith(FITS_SUFFIXES):
        return True
    with open(path, "rb") as fh:
        return fh.read(9) == b"SIMPLE  ="


def _read_fits(path):
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdus:
            for hdu in hdus:
                if hdu.data is not None and getattr(hdu, "is_image", False) and hdu.data.ndim >= 2:
                    data = np.asarray(hdu.data, dtype=np.float32)
                    header = hdu.header.copy()
                    bits = abs(int(hdu.header.get("BITPIX", 16)))
                    break
            else:
                raise UnreadableImage("FITS file has no image data: %s" % path)
    except UnreadableImage:
        raise
    except Exception as exc:  # astropy raises many types for broken files
        raise UnreadableImage("cannot read FITS image %s: %s" % (path, exc)) from exc
    channels = 1
    if data.ndim == 3:
        # Colour FITS is stored as planes (NAXIS3 = 3); luminance is what
        # the star detector wants.
        channels = data.shape[0]
        data = data.mean(axis=0)
    elif data.ndim > 3:
        data = data.reshape((-1,) + data.shape[-2:])[0]
    data = np.nan_to_num(data, nan=float(np.nanmedian(data)) if np.isfinite(data).any() else 0.0)
    return SkyImage(path, "FITS", data, _stretch(data), bits, channels, header)


def _read_raster(path):
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # sky plates are legitimately huge
    try:
        with Image.open(path) as im:
            fmt = im.format or "unknown"
            im.load()
            # Pixel positions should match what a browser shows, which
            # honours the EXIF orientation.
            im = ImageOps.exif_transpose(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage("cannot read image %s: %s" % (path, exc)) from exc
    bands = im.getbands()
    channels = len(bands)
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        grey = np.asarray(im, dtype=np.float32)
        bits = 16 if im.mode.startswith("I;16") or grey.max() > 255 else 8
        preview = _stretch(grey)
    else:
        bits = 8
        rgb = im.convert("RGB")
        preview = np.asarray(rgb, dtype=np.uint8)
        grey = np.asarray(im.convert("L"), dtype=np.uint8)
    return SkyImage(path, fmt, grey, preview, bits, channels)


def _stretch(data):
    """8-bit RGB rendering of linear data, for the annotated picture only."""
    lo, hi = np.percentile(data[:: max(1, data.shape[0] // 512), :: max(1, data.shape[1] // 512)], (0.5, 99.7))
    if hi <= lo:
        hi = lo + 1.0
    scaled = np.clip((data - lo) / (hi - lo), 0.0, 1.0)
    # A mild asinh keeps faint stars visible without burning the bright ones.
    scaled = np.arcsinh(scaled * 10.0) / np.arcsinh(10.0)
    grey8 = (scaled * 255.0 + 0.5).astype(np.uint8)
    return np.repeat(grey8[:, :, None], 3, axis=2)


def write_detection_fits(image, path):
    """Write the grey pixels where image2xy can read them."""
    from astropy.io import fits

    data = image.grey
    hdu = fits.PrimaryHDU(data if data.dtype == np.uint8 else data.astype(np.float32))
    hdu.writeto(path, overwrite=True)
    return path
