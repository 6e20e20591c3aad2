"""Units and defaults that the runner and the bundled extractor share."""
import math

ARCSEC_PER_DEGREE = 3600.0
ARCSEC_PER_RADIAN = math.degrees(1.0) * ARCSEC_PER_DEGREE
# Half the width of a 35 mm film frame: a "35 mm-equivalent" focal length
# gives the field width as 2 * atan(18 mm / f).
FULL_FRAME_HALF_WIDTH_MM = 18.0

# solve-field's --scale-units that jobs accept; focalmm is nova's extra.
SCALE_UNITS = ("degwidth", "arcminwidth", "arcsecperpix")
DEFAULT_SCALE_UNITS = "degwidth"
DEFAULT_TIMEOUT = 600.0


def width_deg_from_focal_35mm(focal_mm):
    """Field width in degrees of a lens of this 35 mm-equivalent focal length."""
    return 2.0 * math.degrees(math.atan(FULL_FRAME_HALF_WIDTH_MM / focal_mm))


def arcsec_per_pixel(value, units, width_px):
    """A scale given in ``units`` (solve-field's, or focalmm) as arcsec per pixel."""
    if units == "arcsecperpix":
        return value
    if units == "arcminwidth":
        return value * 60.0 / width_px
    if units == "focalmm":
        return width_deg_from_focal_35mm(value) * ARCSEC_PER_DEGREE / width_px
    return value * ARCSEC_PER_DEGREE / width_px  # degwidth


def pixscale_from_pitch(pitch_mm, focal_mm):
    """Arcsec per pixel of a sensor pixel ``pitch_mm`` behind a ``focal_mm`` lens."""
    return ARCSEC_PER_RADIAN * pitch_mm / focal_mm
