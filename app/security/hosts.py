"""The Host header must name this service (ENCLAVE_ALLOWED_HOSTS).

A DNS-rebinding page points a name of its own at 127.0.0.1 and reads the service as if it
were its own site; its requests carry that name in `Host`, which is refused here with 400.
Litestar's AllowedHostsMiddleware compares the header with its port included, so a service
on port 8000 could not be named `localhost`; this one compares the host name alone.
"""

from litestar.datastructures import Headers
from litestar.types import ASGIApp, Receive, Scope, Send

from app.security.bounds import refuse

# Probes (load balancers, Kubernetes) address the process by IP: always answered.
OPEN_PATHS = ("/healthz", "/readyz")


def host_name(header: str) -> str:
    """`Host` without its port: `[::1]:8000` → `::1`, `Example.COM:443` → `example.com`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def allowed(name: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        pattern = pattern.strip().lower().strip("[]")
        if pattern == "*" or pattern == name:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


class HostCheck:
    """ASGI middleware: 400 for a request whose Host names another site."""

    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.hosts = hosts
        self.everyone = "*" in hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.everyone or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = Headers.from_scope(scope).get("host", "")
        if header and allowed(host_name(header), self.hosts):
            await self.app(scope, receive, send)
            return
        await refuse(
            scope,
            send,
            400,
            "This service does not answer to that host name (see ENCLAVE_ALLOWED_HOSTS).",
        )
