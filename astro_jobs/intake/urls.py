"""A webhook's URL, checked when the job is submitted (notify/webhook.py POSTs
to it later, from the consumer)."""
from urllib.parse import urlsplit

from ..errors import InvalidParameter, quoted

SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2048


def validate_url(url, name="notify"):
    """``url`` if it is an http(s) URL with a host; InvalidParameter otherwise."""
    if url is None:
        return None
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH or any(
            ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidParameter(f"{{{name}}} must be an http or https URL, got {quoted(url)}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise InvalidParameter(f"{{{name}}} is not a valid URL: {quoted(url)}") from None
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise InvalidParameter(f"{{{name}}} must be an http or https URL, got {quoted(url)}")
    return url
