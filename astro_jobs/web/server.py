"""Run the web face under uvicorn, on 127.0.0.1 unless told otherwise."""
import logging
import socket


def check_installed():
    """ImportError naming the first missing package of the server extra."""
    import jinja2  # noqa: F401
    import PIL  # noqa: F401
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
    import werkzeug  # noqa: F401


def bind(host, port):
    """A listening socket (``port`` 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted sockets
    # only then, and without it a keep-alive reply waits 40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock, tls):
    host, port = sock.getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{host}:{port}/"


def run(sock, cert=None, key=None, host=None):
    """Serve on ``sock`` until SIGINT or SIGTERM (HTTPS with ``cert`` and ``key``);
    ``host``: the name it listens on, one the guard lets clients call it by."""
    import uvicorn

    from .app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = uvicorn.Config(create_app(server_names=(host,)), ssl_certfile=cert, ssl_keyfile=key,
                            log_level="warning", access_log=False, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])
