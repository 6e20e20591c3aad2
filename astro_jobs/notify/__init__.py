"""Finish events: the webhook POST and the ``ASTRO_JOBS_ON_FINISH`` hook,
delivered from the consumer, leased and retried.

May import the store, intake and the leaves (config, errors, timefmt,
identity for this consumer's name, process for the hook); never the runner,
the queue or the web face.
"""
