"""The bundled extractor: plate-solve one sky image offline with astrometry.net.

Run as ``python -m astro_jobs.extract`` or ``astro-extract``; see
``__main__.py`` for the command line and docs/extractor.md for the result.
"""
