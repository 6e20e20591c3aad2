"""Finish events: the webhook POST and the ``ASTRO_JOBS_ON_FINISH`` hook,
delivered from the consumer, leased and retried.

May import the store, config and errors; never the runner or the web face.
"""
