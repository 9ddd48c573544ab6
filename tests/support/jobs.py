"""Waiting for an ingestion job over HTTP, with Litestar's TestClient or an httpx client
(both have the same `get`)."""

import time
from typing import Any

FINISHED_WITHIN_S = 120.0  # a bound on waiting on a shared machine, not a measurement


def wait_for_job(client: Any, job_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The job's JSON once it has left `queued` and `running`."""
    deadline = time.monotonic() + FINISHED_WITHIN_S
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job["status"] not in ("queued", "running"):
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish within {FINISHED_WITHIN_S:.0f} s")
