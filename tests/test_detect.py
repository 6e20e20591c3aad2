"""Star detection in-process (astro_jobs/extract/detect.py): placed stars are
found where they are, brightest first, a saturated star once, a gradient and
plain noise give nothing; the real solves are in test_extract.py."""
import numpy as np

from astro_jobs.extract.detect import find_peaks


def field(stars, shape=(300, 400), noise=3.0, sky=20.0, gradient=0.0, seed=1):
    """A noisy sky with Gaussian stars (x, y 0-based, peak, sigma), clipped to 8 bits."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:shape[0], :shape[1]].astype(np.float64)
    image = sky + gradient * x + rng.normal(0.0, noise, shape)
    for sx, sy, peak, sigma in stars:
        image += peak * np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * sigma ** 2))
    return np.clip(image, 0, 255).astype(np.uint8)


def test_placed_stars_are_found_at_their_positions_brightest_first():
    placed = [(50.3, 40.7, 200.0, 1.5), (300.6, 200.2, 120.0, 1.5), (150.0, 250.5, 60.0, 1.5)]
    found = find_peaks(field(placed))
    assert len(found) >= 3
    for rank, (sx, sy, _, _) in enumerate(placed):
        # FITS pixels are 1-based: the 0-based centre plus one.
        x, y = found[rank, 0] - 1.0, found[rank, 1] - 1.0
        assert abs(x - sx) < 0.3 and abs(y - sy) < 0.3, (rank, x, y)
    assert list(found[:3, 2]) == sorted(found[:3, 2], reverse=True)
    assert all(abs(background - 20.0) < 3.0 for background in found[:3, 3])


def test_a_saturated_star_is_one_peak():
    found = find_peaks(field([(200.0, 150.0, 2000.0, 3.0)]))  # a flat top at 255
    near = np.hypot(found[:, 0] - 201.0, found[:, 1] - 151.0) < 10
    assert near.sum() == 1


def test_noise_and_a_sky_gradient_make_no_stars():
    assert len(find_peaks(field([], gradient=0.3, seed=2))) == 0


def test_images_too_small_or_flat_give_an_empty_list():
    assert find_peaks(np.zeros((2, 50))).shape == (0, 4)
    assert find_peaks(np.full((40, 40), 7, dtype=np.uint8)).shape == (0, 4)
