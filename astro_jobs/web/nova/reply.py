"""nova's replies as its clients parse them.

nova answers JSON as ``json.dumps`` text with ``Content-Type: text/plain``
and no charset (its api.py: ``json_type = 'text/plain'``), and its file
views set the exact types below; astrometry-net-client refuses a reply
whose type it does not know, so these are copied, not approximated.
"""
import json

from starlette.responses import Response

JSON_TYPE = "text/plain"
FITS_TYPE = "application/fits"


def json_reply(doc, status_code=200):
    """``doc`` as nova sends JSON."""
    return Response(json.dumps(doc), status_code=status_code,
                    headers={"content-type": JSON_TYPE})


def text_reply(text, status_code=200):
    """A bare sentence, as nova's views answer where they have no file (Django's
    default ``text/html; charset=utf-8``)."""
    return Response(text, status_code=status_code,
                    headers={"content-type": "text/html; charset=utf-8"})
