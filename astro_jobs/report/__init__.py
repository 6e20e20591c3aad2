"""What operators read: ``stats`` and its index, the Prometheus text,
``doctor``'s checks and ``wait``'s progress line at a terminal.

Reads the store; imports neither the runner nor the web face.
"""
