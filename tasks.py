"""Entry point of the consumer: ``huey_consumer tasks.huey``.

Only imports: the tasks live in the package, so the CLI (which enqueues)
and the consumer (which runs) name them by the same module path.
"""
from astro_jobs.consumer import huey  # noqa: F401
