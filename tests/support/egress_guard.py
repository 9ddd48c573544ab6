"""A guard that records — and refuses — every outbound connection or DNS lookup that is not
for this machine. Installed for the whole test session (see conftest.py) before any library
is imported, so import-time telemetry would be caught too."""

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class EgressBlocked(OSError):
    pass


def _is_local_host(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    name = str(host).strip("[]").lower()
    if name in LOCAL_NAMES or name == "":
        return True
    try:
        address = ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


@dataclass
class EgressGuard:
    attempts: list[str] = field(default_factory=list)
    _originals: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def install(self) -> None:
        if self._originals:
            return  # already installed: wrapping twice would record into the wrong guard
        guard = self
        original_connect = socket.socket.connect
        original_connect_ex = socket.socket.connect_ex
        original_getaddrinfo = socket.getaddrinfo
        self._originals = {
            "connect": original_connect,
            "connect_ex": original_connect_ex,
            "getaddrinfo": original_getaddrinfo,
        }

        def check(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                host = address[0] if isinstance(address, tuple) else address
                if not _is_local_host(host):
                    guard.attempts.append(f"connect {address!r}")
                    raise EgressBlocked(f"egress guard: connection to {address!r} refused")

        def connect(sock: socket.socket, address: Any) -> Any:
            check(sock, address)
            return original_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> Any:
            check(sock, address)
            return original_connect_ex(sock, address)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if not _is_local_host(host):
                guard.attempts.append(f"resolve {host!r}")
                raise socket.gaierror(
                    socket.EAI_NONAME, f"egress guard: lookup of {host!r} refused"
                )
            return original_getaddrinfo(host, *args, **kwargs)

        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo

    def uninstall(self) -> None:
        if self._originals:
            socket.socket.connect = self._originals["connect"]  # type: ignore[method-assign]
            socket.socket.connect_ex = self._originals["connect_ex"]  # type: ignore[method-assign]
            socket.getaddrinfo = self._originals["getaddrinfo"]


# One guard per process, whichever module imports it first.
GUARD = EgressGuard()
