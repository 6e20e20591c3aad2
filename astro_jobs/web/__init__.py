"""``astro-jobs serve``: nova.astrometry.net's API and an operator page over
the same jobs as the CLI (install with ``pip install "astro-jobs[server]"``)."""
