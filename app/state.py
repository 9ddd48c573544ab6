"""What an app holds while it runs, in one typed place: `app.state.enclave`, a `Running`.

It pairs the long-lived parts built once per process (`Services`: database, store, embedder,
model, worker; shared by every app in tests) with this app's own access control, built at
start-up from the app's settings (its keys, sessions, login throttle and audit recorder).
Nothing else is kept on `app.state`.
"""

from dataclasses import dataclass
from typing import Any

from app.security.sessions import LoginThrottle, Sessions
from app.services import Services
from enclave.access.audit import AuditRecorder
from enclave.access.keys import KeyVerifier
from enclave.settings import Settings

STATE_KEY = "enclave"


@dataclass(frozen=True)
class Running:
    services: Services
    settings: Settings  # this app's: its access rules may differ from the services' settings
    keys: KeyVerifier
    sessions: Sessions
    login_throttle: LoginThrottle
    audit: AuditRecorder

    @classmethod
    def start(cls, services: Services, settings: Settings, secret: bytes) -> "Running":
        database = services.database
        return cls(
            services=services,
            settings=settings,
            keys=KeyVerifier(database),
            sessions=Sessions(database, secret, settings.session_hours),
            login_throttle=LoginThrottle(settings.login_max_failures),
            audit=AuditRecorder(database, settings, secret),
        )


def running(app: Any) -> Running:
    """The app's `Running` (a Litestar app, or anything with its `state`)."""
    return of_state(app.state)


def of_state(state: Any) -> Running:
    """The `Running` kept on an app's `state` (what Litestar injects as `state`)."""
    found: Running = getattr(state, STATE_KEY)
    return found


def running_or_none(app: Any) -> Running | None:
    """None before start-up has finished (or for an app that never started)."""
    found: Running | None = getattr(app.state, STATE_KEY, None)
    return found
