"""Headers every reply carries: no content sniffing, no framing, and a
Content-Security-Policy.

Pages load their scripts, styles and pictures from this server only, and
nothing inline runs; every other reply (JSON, FITS, a submitted picture)
is a document that may run nothing at all.
"""
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; "
               "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
               "base-uri 'none'; frame-ancestors 'none'")
FILE_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
COMMON = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
          (b"referrer-policy", b"same-origin"))


def _is_html(headers):
    return any(k.lower() == b"content-type" and v.lower().startswith(b"text/html")
               for k, v in headers)


def security_headers(headers):
    """``headers`` (ASGI pairs) with the security headers added."""
    policy = PAGE_POLICY if _is_html(headers) else FILE_POLICY
    return [*headers, *COMMON, (b"content-security-policy", policy.encode())]


class SecurityHeaders:
    """ASGI middleware adding ``security_headers`` to every reply."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=security_headers(message.get("headers", [])))
            await send(message)
        await self.app(scope, receive, send_with_headers)
