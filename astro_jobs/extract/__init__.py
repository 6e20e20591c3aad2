"""The bundled extractor: plate-solve one sky image offline with astrometry.net.

Run as ``python -m astro_jobs.extract`` or ``astro-extract``; see
``__main__.py`` for the command line and docs/extractor.md for the result.
"""

# Exit codes of the extractor contract (docs/contract.md), which the runner
# reads too: importing this package loads nothing else.
EXIT_UNREADABLE = 2
EXIT_OUT_OF_MEMORY = 12  # ENOMEM: a code a custom extractor is unlikely to use for anything else
