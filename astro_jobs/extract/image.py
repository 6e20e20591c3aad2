"""Read any supported sky image: its facts, a grey copy for star detection
at a chosen binning, and a small colour picture for annotation.

Everything downstream works from what this module returns, so rotated,
mirrored, re-encoded or converted copies of an image all reach the solver
the same way. A JPEG is decoded at the binning asked for (libjpeg scales
while decoding), so a large plate is never decoded at full size just to be
binned again.
"""
import hashlib
import io
import os

import numpy as np

from .. import config
from ..intake import images as intake_images
from ..intake.digest import file_digest
from .metadata import worth_reading

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz")
# EXIF orientations that swap width and height.
_TRANSPOSED = (5, 6, 7, 8)


class UnreadableImage(Exception):
    """The file is not an image we can read: not a sky image at all."""


class SkyImage:
    """Facts and pixels of one input image.

    Pixel coordinates everywhere are those of the full-size image as shown
    (EXIF orientation applied; for FITS, the data array as stored), and
    `grey(factor)` bins it `factor` x `factor`.
    """

    def __init__(self, path, data, fmt, size, bits, channels, header=None):
        self.path, self.format, self.header = path, fmt, header
        self.width, self.height = size
        self.bits, self.channels = bits, channels
        # Whether the file carries EXIF or XMP at all: without, exiftool
        # (a Perl start-up) has nothing to say.
        self.has_metadata = fmt == "FITS"
        self._data = data          # the file's bytes (rasters) or a float array (FITS)
        self._grey = {}
        self._colour = {}

    def info(self):
        return {"file": os.path.basename(self.path), "format": self.format,
                "width": self.width, "height": self.height,
                "sha256": hashlib.sha256(self._bytes()).hexdigest() if self._data is not None
                else file_digest(self.path),
                "bits_per_sample": self.bits, "channels": self.channels}

    def _bytes(self):
        return self._data if isinstance(self._data, bytes) else _file_bytes(self.path)

    def grey(self, factor):
        """(2-D uint8 or float32 array, the binning it already has) for detection binned by
        `factor`. A large JPEG comes decoded at that binning by libjpeg (8x faster detection
        on a 3000 px plate); a small one whole, binned by numpy, which finds
        cleaner stars there than on libjpeg's 2x-scaled, 8-bit-rounded copy."""
        done = 1
        if self.format == "JPEG" and factor >= 4:
            done = min(factor, 8)
        if done not in self._grey:
            if self.format == "FITS":
                self._grey[done] = self._data
            else:
                self._grey[done], self._colour[done] = _decode_raster(self._data, done)
        return self._grey[done], done

    def preview(self, max_width):
        """An RGB uint8 picture at most max_width wide (binned by a power of two)."""
        factor = 1
        while self.width / factor > max_width:
            factor *= 2
        if self.format == "FITS":
            return _stretch(bin_array(self._data, factor))
        if factor not in self._colour:
            self._grey[factor], self._colour[factor] = _decode_raster(self._data, factor)
        return self._colour[factor]


def _file_bytes(path):
    with open(path, "rb") as fh:
        return fh.read()


def read_image(path):
    if not os.path.isfile(path):
        raise UnreadableImage("image not found: %s" % path)
    size = checked_size(path)
    if looks_like_fits(path):
        return _read_fits(path, size)
    return _read_raster(path, size)


def checked_size(path):
    """(width, height) the header claims, checked by submit's own reader before
    anything is decoded: a file submit would refuse is refused here too, and
    the decoder must then find that very size."""
    try:
        info = intake_images.inspect(path, config.max_image_pixels())
    except intake_images.InvalidImage as exc:
        raise UnreadableImage("cannot read image %s: %s" % (os.path.basename(path),
                                                            exc.message)) from None
    return info["width"], info["height"]


def _same_size(path, claimed, decoded):
    if tuple(decoded) != tuple(claimed):
        raise UnreadableImage("image %s: its header says %d x %d pixels but it decodes to "
                              "%d x %d" % ((os.path.basename(path),) + tuple(claimed)
                                           + tuple(decoded)))


def looks_like_fits(path):
    if path.lower().endswith(FITS_SUFFIXES):
        return True
    with open(path, "rb") as fh:
        return fh.read(9) == b"SIMPLE  ="


def _read_fits(path, claimed):
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdus:
            # Only the HDU submit described: the primary one or the first extension.
            for number, hdu in zip(range(2), hdus):
                if intake_images.image_hdu(hdu.header, number == 0) and hdu.data is not None \
                        and hdu.data.ndim >= 2:
                    data = np.asarray(hdu.data, dtype=np.float32)
                    header = hdu.header.copy()
                    bits = abs(int(hdu.header.get("BITPIX", 16)))
                    break
            else:
                raise UnreadableImage("FITS file has no image data: %s" % path)
    except (UnreadableImage, MemoryError):
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
    size = (int(data.shape[1]), int(data.shape[0]))
    _same_size(path, claimed, size)
    return SkyImage(path, data, "FITS", size, bits, channels, header)


def _read_raster(path, claimed):
    from PIL import Image, UnidentifiedImageError

    # Pillow's own bomb check, at our limit (submit's check has already held).
    Image.MAX_IMAGE_PIXELS = int(config.max_image_pixels())
    data = _file_bytes(path)
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, (width, height) = im.format or "unknown", im.size
            _same_size(path, claimed, im.size)
            orientation = im.getexif().get(0x0112, 1) if fmt in ("JPEG", "TIFF", "PNG") else 1
            bands, mode = im.getbands(), im.mode
            tagged = worth_reading(im.getexif(), _xmp_packet(im))
            if fmt == "JPEG":
                # A 1/8 decode is cheap and still reads every block.
                im.draft("L", (width // 8, height // 8))
            # Decoding (not just the header) is what proves the file is whole.
            im.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError,
            ValueError) as exc:
        raise UnreadableImage("cannot read image %s: %s" % (path, exc)) from exc
    if orientation in _TRANSPOSED:
        width, height = height, width
    bits = 16 if mode.startswith("I;16") or mode in ("I", "F") else 8
    image = SkyImage(path, data, fmt, (width, height), bits, len(bands))
    image.has_metadata = tagged
    return image


def _xmp_packet(im):
    """The picture's XMP packet (bytes or str) or None. Older Pillow (the
    floor, 9.2) leaves a JPEG's among its APP1 segments and a TIFF's in its
    tag 700."""
    packet = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if packet:
        return packet
    segments = [data for marker, data in getattr(im, "applist", ())
                if marker == "APP1" and data.startswith(b"http://ns.adobe.com/xap/1.0/\0")]
    return b"".join(segments) or getattr(im, "tag_v2", {}).get(700)


def _decode_raster(data, factor):
    """(grey array, RGB uint8 array), both binned factor x factor."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        if im.format == "JPEG" and factor > 1:
            full = im.size
            im.draft("RGB" if im.mode != "L" else "L", (full[0] // factor, full[1] // factor))
            # libjpeg scales by 1/2, 1/4 or 1/8 at most; bin the rest below.
            factor = max(1, factor // round(full[0] / im.size[0]))
        im.load()
        im = ImageOps.exif_transpose(im)
        if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            grey = bin_array(np.asarray(im, dtype=np.float32), factor)
            return grey, _stretch(grey)
        rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
        grey = np.asarray(im.convert("L"), dtype=np.uint8)
    if factor > 1:
        grey = bin_array(grey, factor)
        rgb = bin_array(rgb, factor).astype(np.uint8)
    return grey, rgb


def bin_array(data, factor):
    """Mean over factor x factor blocks (the ragged edge is dropped); uint8 stays uint8."""
    if factor <= 1:
        return data
    h, w = data.shape[0] // factor * factor, data.shape[1] // factor * factor
    cut = data[:h, :w].astype(np.float32)
    shape = (h // factor, factor, w // factor, factor) + data.shape[2:]
    binned = cut.reshape(shape).mean(axis=(1, 3))
    return (binned + 0.5).astype(np.uint8) if data.dtype == np.uint8 else binned


def _stretch(data):
    """8-bit RGB rendering of linear data, for the annotated picture only."""
    step = (max(1, data.shape[0] // 512), max(1, data.shape[1] // 512))
    lo, hi = np.percentile(data[::step[0], ::step[1]], (0.5, 99.7))
    if hi <= lo:
        hi = lo + 1.0
    scaled = np.clip((data - lo) / (hi - lo), 0.0, 1.0)
    # A mild asinh keeps faint stars visible without burning the bright ones.
    scaled = np.arcsinh(scaled * 10.0) / np.arcsinh(10.0)
    grey8 = (scaled * 255.0 + 0.5).astype(np.uint8)
    return np.repeat(grey8[:, :, None], 3, axis=2)
