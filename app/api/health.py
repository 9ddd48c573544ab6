"""Liveness and readiness probes."""

from litestar import Controller, get
from litestar.exceptions import HTTPException

from app.services import Services


class HealthController(Controller):
    tags = ["health"]

    @get("/healthz", sync_to_thread=False)
    def healthz(self) -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @get("/readyz", sync_to_thread=True)
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
