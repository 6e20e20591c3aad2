"""Find star-like peaks in a grey image, in-process with numpy.

What image2xy (astrometry.net's simplexy) does, in its essentials: a
median background over boxes, the noise measured from pixel differences,
a Gaussian-smoothed copy, and every local maximum of that copy standing
PEAK_SIGMAS above the noise, placed to a fraction of a pixel. Done here
it costs a few hundredths of a second instead of a program start, a FITS
round trip and image2xy's own filtering (0.1-0.5 s per image), and the
warm extractor's imports are already paid. The solver sorts and cuts the
list (stars.solver_order), so only the brightest peaks matter.
"""
import numpy as np

# image2xy's smoothing (a Gaussian of sigma 1 pixel) and sampling of the
# noise. Its 8-sigma peaks found too few stars in a crowded Milky Way frame
# here (67 where image2xy found 154): this noise estimate runs higher.
PEAK_SIGMAS = 5.0
PSF_SIGMA = 1.0
NOISE_STEP = 5
# Background boxes: larger than any star of a binned image, small enough
# to follow a sky glow or a vignetted corner.
BACKGROUND_BOX = 50
MAX_PEAKS = 10000
# The eight neighbours; a peak must beat those before it in reading order
# and at least equal those after, so a flat (saturated) top gives one peak.
_NEIGHBOURS = ((-1, -1, True), (-1, 0, True), (-1, 1, True), (0, -1, True),
               (0, 1, False), (1, -1, False), (1, 0, False), (1, 1, False))


def find_peaks(grey):
    """(N, 4) X, Y (1-based FITS pixels), FLUX, BACKGROUND of ``grey``'s peaks,
    brightest first (FLUX: the smoothed peak above the background)."""
    data = np.asarray(grey, dtype=np.float32)
    if data.ndim != 2 or min(data.shape) < 3:
        return np.zeros((0, 4))
    background = _background(data)
    smooth = _smooth(data - background)
    threshold = PEAK_SIGMAS * _noise(data) / (2.0 * np.sqrt(np.pi) * PSF_SIGMA)
    y, x = _local_maxima(smooth, threshold)
    flux = smooth[y, x]
    order = np.argsort(-flux, kind="stable")[:MAX_PEAKS]
    y, x, flux = y[order], x[order], flux[order]
    dx = _vertex(smooth[y, x - 1], flux, smooth[y, x + 1])
    dy = _vertex(smooth[y - 1, x], flux, smooth[y + 1, x])
    return np.column_stack([x + dx + 1.0, y + dy + 1.0, flux, background[y, x]])


def _background(data, box=BACKGROUND_BOX):
    """Median of each box, interpolated bilinearly between the box centres and
    carried on linearly past the outer ones (a sky gradient reaches the edge)."""
    height, width = data.shape
    rows, cols = max(1, height // box), max(1, width // box)
    bh, bw = height // rows, width // cols
    boxes = data[:rows * bh, :cols * bw].reshape(rows, bh, cols, bw)
    medians = np.median(boxes.transpose(0, 2, 1, 3).reshape(rows, cols, -1), axis=2)
    across = _linear(medians, bw, width)
    return _linear(across.T, bh, height).T


def _linear(values, step, size):
    """Each row of ``values`` (one per box, box centres ``step`` apart) at
    pixels 0 .. size - 1, extrapolated linearly beyond the first and last."""
    count = values.shape[1]
    if count == 1:
        return np.repeat(values, size, axis=1)
    centres = (np.arange(count) + 0.5) * step - 0.5
    pixels = np.arange(size)
    # Where each pixel falls between two neighbouring centres (the end
    # segments extended), and how far along.
    left = np.clip(np.searchsorted(centres, pixels) - 1, 0, count - 2)
    along = (pixels - centres[left]) / step
    return values[:, left] * (1.0 - along) + values[:, left + 1] * along


def _noise(data):
    """Sigma of the pixel noise from differences NOISE_STEP pixels apart (as
    image2xy's dsigma): robust to stars, which are few and small."""
    diff = (data[:, NOISE_STEP:] - data[:, :-NOISE_STEP])[::2, ::2]
    if diff.size == 0:
        diff = data[:, 1:] - data[:, :-1]
    sigma = 1.4826 * float(np.median(np.abs(diff - np.median(diff)))) / np.sqrt(2.0)
    return sigma if sigma > 0 else max(float(np.std(data)), 1e-6)


def _smooth(data, sigma=PSF_SIGMA):
    """Separable Gaussian convolution (edges repeated)."""
    reach = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-reach, reach + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(data, reach, mode="edge")
    height, width = data.shape
    across = sum(w * padded[:, i:i + width] for i, w in enumerate(kernel))
    return sum(w * across[i:i + height, :] for i, w in enumerate(kernel))


def _local_maxima(smooth, threshold):
    """(y, x) of interior pixels above ``threshold`` that are local maxima."""
    height, width = smooth.shape
    centre = smooth[1:-1, 1:-1]
    peak = centre > threshold
    for dy, dx, strict in _NEIGHBOURS:
        other = smooth[1 + dy:height - 1 + dy, 1 + dx:width - 1 + dx]
        peak &= (centre > other) if strict else (centre >= other)
    y, x = np.nonzero(peak)
    return y + 1, x + 1


def _vertex(before, at, after):
    """Offset of the parabola's top through three samples, within half a pixel."""
    curvature = before - 2.0 * at + after
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(curvature < 0, 0.5 * (before - after) / curvature, 0.0)
    return np.clip(offset, -0.5, 0.5)
