"""What a caller submits: parameters, scale units, and the headers of images
and star lists (one owner per format, shared with the bundled extractor).

Pure checks over bytes and values: imports only ``errors`` from the top,
never the store, the queue or the runner.
"""
