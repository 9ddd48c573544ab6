"""Ingestion jobs and their progress."""

from typing import Annotated

from litestar import Controller, get
from litestar.exceptions import NotFoundException
from litestar.params import Parameter

from app.library import Library
from app.schemas import JobOut
from app.security.auth import requires
from app.security.routes import UNAUDITED
from enclave.access.principal import Principal


class JobController(Controller):
    opt = UNAUDITED  # polled by the pages while a job runs
    path = "/api/jobs"
    tags = ["jobs"]
    guards = [requires("ingest")]  # jobs name files: for those who add them

    @get("/{job_id:str}", sync_to_thread=True, raises=[NotFoundException])
    def show(self, library: Library, principal: Principal, job_id: str) -> JobOut:
        """A job's progress: files done of total, chunks, outcomes and per-file errors.
        Needs the 'ingest' scope; only jobs of sources sharing one of the caller's groups."""
        found = library.job(job_id, principal.groups)
        if found is None:
            raise NotFoundException(f"no job {job_id}")
        job, totals, errors = found
        shown = [(library.paths.display(path, principal.groups), e) for path, e in errors]
        return JobOut.from_model(job, totals, shown)

    @get(sync_to_thread=True)
    def list_jobs(
        self,
        library: Library,
        principal: Principal,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 20,
    ) -> list[JobOut]:
        """Recent jobs, newest first."""
        return [JobOut.from_model(job, None, None) for job in library.jobs(limit, principal.groups)]
