"""A file's hash, read in blocks (an upload or an image may be large)."""
import hashlib


def file_digest(path, algorithm="sha256"):
    """Hex digest of the file at ``path``."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
