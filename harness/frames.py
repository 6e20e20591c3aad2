"""Frames of an imaging session made from one corpus image: each a little
shifted and rotated from the one before, as a mount that drifts makes them."""
import random
from pathlib import Path

# Each frame's window: the source minus this margin on every side, so a
# shift of up to the margin stays inside the picture.
MARGIN = 40


def make_sequence(source, folder, count, seed=19, max_shift=6, max_turn=0.3):
    """Write ``count`` JPEG frames of ``source`` into ``folder``; their paths.

    The window drifts by up to ``max_shift`` pixels and turns by up to
    ``max_turn`` degrees per frame (bounded by MARGIN in all)."""
    from PIL import Image

    rng = random.Random(seed)
    picture = Image.open(source).convert("RGB")
    width, height = picture.size
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dx = dy = angle = 0.0
    paths = []
    for number in range(count):
        turned = picture.rotate(angle, resample=Image.BICUBIC,
                                center=(width / 2 + dx, height / 2 + dy))
        box = (int(MARGIN + dx), int(MARGIN + dy), int(width - MARGIN + dx),
               int(height - MARGIN + dy))
        path = folder / f"frame-{number:03d}.jpg"
        turned.crop(box).save(path, quality=95)
        paths.append(path)
        dx = max(-MARGIN, min(MARGIN, dx + rng.uniform(-max_shift, max_shift)))
        dy = max(-MARGIN, min(MARGIN, dy + rng.uniform(-max_shift, max_shift)))
        angle += rng.uniform(-max_turn, max_turn)
    return paths
