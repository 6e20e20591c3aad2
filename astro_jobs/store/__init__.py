"""The JOBS_DIR store: the only code that builds paths in JOBS_DIR or touches
its files.

``layout`` names every path; ``record`` owns the status record (its schema,
constructor, serializer and transitions); ``jobdir`` publishes, lists, locks,
reads and writes job folders; ``states`` holds the transition table;
``tasklog``, ``statsindex``, ``consumers``, ``sequences`` and ``sessions``
own their files; ``retention`` prunes.

Imports only the leaves at the top (``config``, ``errors``, ``timefmt``,
``process``): never the queue, the runner, notify, the web face or the CLI.
"""
