"""The jobs page: running and recent ingestion jobs, and one job's progress and errors."""

from typing import Any

from litestar import Controller, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from app.library import Library
from app.security.auth import requires
from app.web.views import sources_by_id, when
from enclave.access.principal import Principal
from enclave.db import Job, JobStatus

ACTIVE = {JobStatus.QUEUED, JobStatus.RUNNING}


def job_view(job: Job, source_name: str) -> dict[str, Any]:
    total = job.files_total
    percent = round(100 * job.files_done / total) if total else (100 if job.finished_at else 0)
    return {
        "id": job.id,
        "kind": job.kind.value,
        "status": job.status.value,
        "active": job.status in ACTIVE,
        "source": source_name,
        "files_done": job.files_done,
        "files_total": total,
        "percent": min(100, percent),
        "chunks": job.chunks,
        "error": job.error,
        "created_at": when(job.created_at),
        "finished_at": when(job.finished_at),
    }


class JobsPage(Controller):
    path = "/jobs"
    include_in_schema = False
    guards = [requires("ingest")]

    @get(sync_to_thread=True)
    def jobs(self, library: Library, principal: Principal) -> Template:
        sources = sources_by_id(library.database, principal.groups)
        jobs = [
            job_view(j, sources[j.source_id].name if j.source_id in sources else "")
            for j in library.jobs(50, principal.groups)
        ]
        return Template(
            "jobs.html",
            context={"jobs": jobs, "refresh": any(j["active"] for j in jobs)},
        )

    @get("/{job_id:str}", sync_to_thread=True)
    def job(self, library: Library, principal: Principal, job_id: str) -> Template:
        found = library.job(job_id, principal.groups)
        if found is None:
            raise NotFoundException(f"no job {job_id}")
        job, totals, errors = found
        sources = sources_by_id(library.database, principal.groups)
        view = job_view(job, sources[job.source_id].name if job.source_id in sources else "")
        return Template(
            "job.html",
            context={
                "job": view,
                "totals": totals,
                "errors": [{"path": p, "error": e} for p, e in errors],
                "refresh": view["active"],
            },
        )
