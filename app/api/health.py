"""Liveness and readiness probes."""

import msgspec
from litestar import Controller, get
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec

from app.security.routes import PUBLIC
from app.services import Services


class NotReady(msgspec.Struct):
    """A probe's refusal: which part failed, by name of the error (no detail leaks)."""

    status_code: int
    detail: str
    extra: dict[str, str]  # database, qdrant: "ok" or "error: <kind>"; model: its name


class HealthController(Controller):
    opt = PUBLIC  # probes: no authentication, not audited
    tags = ["health"]

    @get("/healthz", sync_to_thread=False)
    def healthz(self) -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @get(
        "/readyz",
        sync_to_thread=True,
        responses={503: ResponseSpec(NotReady, description="A part is down: do not route here.")},
    )
    def readyz(self, services: Services) -> dict[str, str]:
        """The database, the vector store and the model answer."""
        checks: dict[str, str] = {}
        try:
            services.database.ping()
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"error: {type(error).__name__}"
        try:
            checks["qdrant"] = "ok" if services.store.ping() else "error: collection missing"
        except Exception as error:
            checks["qdrant"] = f"error: {type(error).__name__}"
        checks["model"] = services.generator.model_name
        if any(value.startswith("error") for value in checks.values()):
            raise HTTPException(status_code=503, detail="not ready", extra=checks)
        return {"status": "ready", **checks}
