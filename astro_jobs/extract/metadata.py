"""Camera and observation facts: EXIF via exiftool, or the FITS header.

Returns the contract's ``exif`` object plus the raw numbers the hint logic
needs (35 mm focal length, pixel pitch, pointing), so nothing else has to
know exiftool's or FITS's key names.
"""
import json
import math
import shutil
import subprocess

from ..intake.units import arcsec_per_pixel, pixscale_from_pitch

EXIF_KEYS = ("camera", "lens", "focal_length_mm", "exposure_s", "iso", "datetime_original", "gps")

# FocalPlaneResolutionUnit codes (EXIF 2.3) in millimetres.
_PLANE_UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}


# What _from_exif reads, as EXIF tag numbers (Make, Model; then exposure,
# ISO, dates, focal lengths, focal plane resolution, lens in the Exif IFD;
# any GPS IFD) and as the XMP namespaces exiftool maps to the same names.
# A file carrying none of them has nothing for exiftool to find, and
# exiftool's start (a Perl program) costs more than detecting the stars.
_EXIF_CAMERA = (0x010F, 0x0110)
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_EXIF_IFD_TAGS = {0x829A, 0x8827, 0x9003, 0x9004, 0x920A, 0xA20E, 0xA210, 0xA405, 0xA432,
                  0xA434}
_XMP_NAMESPACES = (b"ns.adobe.com/exif/", b"ns.adobe.com/tiff/", b"cipa.jp/exif/")


def worth_reading(exif, xmp):
    """Whether a picture's EXIF (Pillow's Image.Exif) or XMP packet holds
    anything the hints or the result's ``exif`` use."""
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8", "replace")
    if xmp is not None and not isinstance(xmp, bytes):
        return True  # a packet in a shape we do not search: exiftool reads it
    if xmp and any(namespace in xmp for namespace in _XMP_NAMESPACES):
        return True
    if any(tag in exif for tag in _EXIF_CAMERA) or _GPS_IFD in exif:
        return True
    try:
        return _EXIF_IFD in exif and bool(_EXIF_IFD_TAGS & set(exif.get_ifd(_EXIF_IFD)))
    except Exception:  # a damaged Exif IFD: exiftool reads what it can of it
        return True


class Metadata:
    def __init__(self):
        self.exif = {k: None for k in EXIF_KEYS}
        self.focal_35mm = None       # 35 mm-equivalent focal length
        self.pixscale_arcsec = None  # for the pixels as stored in the file
        self.ra = None
        self.dec = None
        self.origin = None           # "exif" or "fits-header"
        self.wcs = None              # {"ra", "dec", "pixscale"} of a full header WCS
        self.raw = {}


class Pending:
    """Metadata being read: exiftool runs while the stars are detected."""

    def __init__(self, image):
        self.image = image
        self.proc = None
        if image.format not in ("FITS", "xyls", "csv") and getattr(image, "has_metadata", True) \
                and shutil.which("exiftool"):
            self.proc = subprocess.Popen(["exiftool", "-json", "-n", "-G0", "--", image.path],
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         stdin=subprocess.DEVNULL, text=True)

    def result(self):
        meta = Metadata()
        if self.image.format == "FITS":
            _from_fits_header(meta, self.image.header)
            meta.wcs = _header_wcs(self.image.header, self.image.width, self.image.height)
            if meta.wcs is not None and not meta.pixscale_arcsec:
                meta.pixscale_arcsec, meta.origin = meta.wcs["pixscale"], "fits-header"
        elif self.proc is not None:
            _from_exif(meta, _exiftool_tags(self.proc), self.image.width)
        return meta


def read_metadata(image):
    return Pending(image).result()


def _exiftool_tags(proc):
    try:
        out, _ = proc.communicate(timeout=30)
        data = json.loads(out or "[]")
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {}
    except (ValueError, OSError):
        return {}
    if not data:
        return {}
    # -G0 prefixes group names ("EXIF:Model"); dropping them keeps lookups
    # simple while the first group seen wins for duplicated tags.
    flat = {}
    for key, value in data[0].items():
        flat.setdefault(key.split(":", 1)[-1], value)
    return flat


def _num(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _from_exif(meta, tags, image_width):
    meta.raw = tags
    make = str(tags.get("Make") or "").strip()
    model = str(tags.get("Model") or "").strip()
    camera = model if model.lower().startswith(make.lower()) else (make + " " + model).strip()
    lens = tags.get("LensModel") or tags.get("LensID") or tags.get("Lens") or tags.get("LensInfo")
    focal = _num(tags.get("FocalLength"))
    meta.exif.update(
        camera=camera or None,
        lens=str(lens) if lens else None,
        focal_length_mm=focal,
        exposure_s=_num(tags.get("ExposureTime")),
        iso=_int(tags.get("ISO")),
        datetime_original=_iso_datetime(tags.get("DateTimeOriginal") or tags.get("CreateDate")),
        gps=_gps(tags),
    )
    original_width = _num(tags.get("ExifImageWidth")) or image_width
    f35 = _num(tags.get("FocalLengthIn35mmFormat")) or _num(tags.get("FocalLength35efl"))
    if f35 and focal and abs(f35 - focal) < 1e-6 and not tags.get("FocalLengthIn35mmFormat"):
        f35 = None  # exiftool's 35efl equals FocalLength when it knows no crop factor
    if f35:
        meta.focal_35mm = f35
        # The 35 mm width spans the camera's full frame; the EXIF width tells
        # how many pixels that frame had, which survives later cropping.
        meta.pixscale_arcsec = arcsec_per_pixel(f35, "focalmm", original_width)
    elif focal:
        pitch_mm = _plane_pitch_mm(tags)
        if pitch_mm:
            meta.pixscale_arcsec = pixscale_from_pitch(pitch_mm, focal)
    if meta.pixscale_arcsec:
        meta.origin = "exif"


def _plane_pitch_mm(tags):
    resolution = _num(tags.get("FocalPlaneXResolution"))
    unit = _PLANE_UNIT_MM.get(_int(tags.get("FocalPlaneResolutionUnit")))
    if resolution and unit:
        return unit / resolution
    return None


def _int(value):
    number = _num(value)
    return int(round(number)) if number else None


def _iso_datetime(value):
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    # EXIF writes "YYYY:MM:DD HH:MM:SS"; ISO 8601 is what callers parse.
    if len(text) >= 19 and text[4] == ":" and text[7] == ":":
        text = text[:4] + "-" + text[5:7] + "-" + text[8:10] + "T" + text[11:]
    return text


def _gps(tags):
    lat, lon = tags.get("GPSLatitude"), tags.get("GPSLongitude")
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    # With -n exiftool gives unsigned degrees plus a reference letter in
    # the EXIF group; the Composite tags are signed.
    if str(tags.get("GPSLatitudeRef", "N")).upper().startswith("S") and lat > 0:
        lat = -lat
    if str(tags.get("GPSLongitudeRef", "E")).upper().startswith("W") and lon > 0:
        lon = -lon
    gps = {"lat": lat, "lon": lon}
    alt = tags.get("GPSAltitude")
    if isinstance(alt, (int, float)):
        gps["alt_m"] = float(alt)
    return gps


def _from_fits_header(meta, header):
    if header is None:
        return
    get = header.get
    meta.raw = {k: get(k) for k in ("DATE-OBS", "EXPTIME", "EXPOSURE", "FOCALLEN", "XPIXSZ",
                                     "XBINNING", "PIXSIZE1", "CDELT1", "RA", "DEC", "OBJCTRA",
                                     "OBJCTDEC", "INSTRUME", "TELESCOP", "PIXSCALE", "SCALE")
                if k in header}
    focal = _num(get("FOCALLEN"))
    meta.exif.update(
        camera=str(get("INSTRUME")).strip() if get("INSTRUME") else None,
        lens=str(get("TELESCOP")).strip() if get("TELESCOP") else None,
        focal_length_mm=focal,
        exposure_s=_num(get("EXPTIME")) or _num(get("EXPOSURE")),
        iso=_int(get("ISOSPEED")) or _int(get("ISO")),
        datetime_original=str(get("DATE-OBS")) if get("DATE-OBS") else None,
        gps=_fits_site(header),
    )
    scale = _num(get("PIXSCALE")) or _num(get("SCALE")) or _num(get("SECPIX"))
    # MaxIm/ASCOM write XPIXSZ already multiplied by the binning; PIXSIZE1
    # is the sensor's own pitch.
    pitch_um = _num(get("XPIXSZ")) or (
        _num(get("PIXSIZE1")) and _num(get("PIXSIZE1")) * (_num(get("XBINNING")) or 1.0))
    if not scale and focal and pitch_um:
        scale = 206.2648 * pitch_um / focal
    if not scale and _num_signed(get("CDELT1")):
        scale = abs(_num_signed(get("CDELT1"))) * 3600.0
    meta.pixscale_arcsec = scale
    meta.ra, meta.dec = _fits_pointing(header)
    if scale or meta.ra is not None:
        meta.origin = "fits-header"


def _fits_site(header):
    lat, lon = _num_signed(header.get("SITELAT")), _num_signed(header.get("SITELONG"))
    if lat is None or lon is None:
        return None
    return {"lat": lat, "lon": lon}


def _num_signed(value):
    if isinstance(value, str):
        return _sexagesimal(value, 1.0)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _sexagesimal(text, unit_deg):
    parts = text.translate(str.maketrans(":hmsd", "     ")).split()
    try:
        values = [float(p) for p in parts]
    except ValueError:
        return None
    if not values:
        return None
    sign = -1.0 if text.strip().startswith("-") else 1.0
    total = abs(values[0]) + sum(v / 60.0 ** i for i, v in enumerate(values[1:], start=1))
    return sign * total * unit_deg


def _fits_pointing(header):
    """Where the header says the telescope pointed, in degrees, or None."""
    for ra_key, dec_key in (("OBJCTRA", "OBJCTDEC"), ("RA", "DEC"), ("RA_OBJ", "DEC_OBJ"),
                            ("CRVAL1", "CRVAL2")):
        ra, dec = header.get(ra_key), header.get(dec_key)
        if ra is None or dec is None:
            continue
        if isinstance(ra, str):
            # Sexagesimal RA strings are hours; decimal strings are degrees.
            ra_deg = _sexagesimal(ra, 15.0) if any(c in ra for c in ": hm") else _num_signed(ra)
            dec_deg = _sexagesimal(dec, 1.0) if isinstance(dec, str) else _num_signed(dec)
        else:
            ra_deg, dec_deg = _num_signed(ra), _num_signed(dec)
        if ra_deg is not None and dec_deg is not None and 0 <= ra_deg < 360 \
                and -90 <= dec_deg <= 90:
            return ra_deg, dec_deg
    return None, None


def _header_wcs(header, width, height):
    """Centre and scale of a celestial WCS in the header, or None."""
    from .wcs import from_header

    if header is None:
        return None
    wcs = from_header(header)
    if wcs is None:
        return None
    ra, dec = wcs.pixel_to_sky((width + 1) / 2.0, (height + 1) / 2.0)
    return {"ra": round(float(ra), 6), "dec": round(float(dec), 6),
            "pixscale": round(wcs.pixscale_arcsec, 6)}
