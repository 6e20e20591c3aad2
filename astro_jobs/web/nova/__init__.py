"""nova.astrometry.net's API (``/api/...``): its wire format, uploads and
integer ids, over the same jobs as the CLI."""
