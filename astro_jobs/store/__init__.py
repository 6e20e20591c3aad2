"""The JOBS_DIR store: job folders, the status record and its transitions,
states, retention, and the files of the consumers' registry and indexes.

The only code that builds paths in JOBS_DIR. Imports only ``config``,
``errors`` and ``timefmt`` from the top: never the queue, the runner, the
web face or the CLI.
"""
