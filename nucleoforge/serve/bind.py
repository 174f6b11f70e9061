"""Where ``nucleoforge serve`` listens: loopback unless told otherwise, and bound before the model loads.

The server has no authentication, so an address other than loopback (``127.0.0.1``, ``::1``,
``localhost``) needs ``allow_remote``. :func:`listen` binds the socket at start-up, so that a
refused address or a port in use is one error line before anything slow happens; uvicorn then
serves on that very socket (no second bind, no race for the port).

>>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0"), is_loopback("192.0.2.1")
(True, True, False, False)
"""

from __future__ import annotations

import ipaddress
import socket

from nucleoforge.errors import NucleoforgeError


__all__ = ["is_loopback", "listen", "url_of"]

#: what ``--allow-remote`` opens, as the refusal and the start-up warning say it
EXPOSES = ("anyone who can reach it can run the model on this machine, read /health (the reference and annotation "
           "paths) and add scores to --cache")


def _addresses(host: str, port: int) -> list[tuple]:
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise NucleoforgeError(f"--host {host}: not an address of this machine ({exc.strerror})") from None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address, or a name resolved here) means this machine only."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def listen(host: str, port: int, *, allow_remote: bool = False) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: any free port), ready for uvicorn. A
    :class:`~nucleoforge.errors.NucleoforgeError` (one line) for a host beyond loopback without
    ``allow_remote``, a name that does not resolve, or an address that cannot be bound."""
    host = host.strip("[]")
    if not allow_remote and not is_loopback(host):
        raise NucleoforgeError(f"--host {host}: not a loopback address (127.0.0.1, ::1, localhost) and this server has no "
                               "authentication: add --allow-remote to serve beyond this machine")
    family, kind, proto, _, address = _addresses(host, port)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a port in TIME_WAIT is free
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise NucleoforgeError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})") from None
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://HOST:PORT/`` of a bound socket (the port it really got for ``--port 0``)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
