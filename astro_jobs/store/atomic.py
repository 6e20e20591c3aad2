"""Replace a file so readers see the old content or the new, never half of it.

Shared by the runner (status.json) and the bundled extractor (result.json,
the stage file).
"""
import contextlib
import os
import threading
from pathlib import Path


def write_atomically(path, data, mode=0o666, durable=True):
    """Write ``data`` (bytes) to ``path`` through a temporary file and a rename.

    ``mode`` is filtered by the umask; ``durable`` fsyncs before the rename.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            # A nearly full disk may take part of a write without an error:
            # renaming half a file over the old one would truncate it.
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
