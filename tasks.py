"""``huey_consumer tasks.huey`` from a checkout, for set-ups made before
``huey_consumer astro_jobs.consumer.huey`` (which imports from anywhere and
is what the Procfile and the systemd unit use).

Only imports: the tasks live in the package, so the CLI (which enqueues)
and the consumer (which runs) name them by the same module path.
"""
from astro_jobs.consumer import huey  # noqa: F401
