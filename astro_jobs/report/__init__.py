"""What operators read: ``stats`` and its index, the Prometheus text,
``doctor``'s checks, tables and ``wait``'s progress line at a terminal.

Reads the store; ``doctor`` also asks the queue and runs the extractor's
``--help`` (runner/command.py). Never imports notify or the web face.
"""
