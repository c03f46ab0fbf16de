"""The solara server behind ``swarm web``: the page of :mod:`swarm.web.app`, one process.

The socket is bound here, before solara starts, so a taken port is one line and exit 2,
``--port 0`` takes a free port, and the address printed is the one that answers (tests
read it). Solara reads which app to serve from the environment when its server module is
imported, so everything is set before that import.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import warnings
from typing import Any

from swarm.config import ConfigError

APP = "swarm.web.app:Page"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 takes a free one."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port: must be between 0 and 65535 (got {port})")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise ConfigError(f"--host: cannot use {host!r} ({err.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise ConfigError(f"--port: cannot listen on {host}:{port} ({err.strerror})") from None
    sock.listen(128)  # clients wait in the backlog until solara is up, instead of failing
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(spec: dict[str, Any], host: str = "127.0.0.1", port: int = 8765) -> int:
    """Serve the page for ``spec`` (see :func:`swarm.web.app.spec_from_env`) until
    interrupted; prints the address first."""
    sock = bind(host, port)
    os.environ["SWARM_WEB_SPEC"] = json.dumps(spec)
    os.environ["SOLARA_APP"] = APP
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")  # no calls home
    # a closed tab's kernel (and its model, playing or not) goes after this long, not 24 h
    os.environ.setdefault("SOLARA_KERNEL_CULL_TIMEOUT", "10s")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # the renderer never opens a window
    # solara warns on every page load that plain http gets lax cookies: true and harmless here
    warnings.filterwarnings("ignore", message="Cookies with samesite=none", category=UserWarning)
    import uvicorn

    url = url_of(sock, host)
    print(f"swarm web: {spec['scenario']} at {url} (Ctrl-C stops)", flush=True)
    config = uvicorn.Config(
        "solara.server.starlette:app",
        log_level="warning",
        ws_max_size=64 * 2**20,
        ws_per_message_deflate=False,  # frames are PNGs: compressing them again costs time
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    print("swarm web: stopped", file=sys.stderr)
    return 0
