"""GET /api/search: the passages best matching a query, by meaning, words or both."""

from typing import Annotated

from litestar import Controller, Request, get
from litestar.params import Parameter

from app.answering.answers import AnswerService
from app.answering.filters import FiltersIn
from app.schemas import SearchResponse, SearchResult
from app.security.audit import note
from app.security.auth import requires
from app.security.routes import audited
from app.validation import check_k, clean_query
from enclave.access.principal import Principal
from enclave.settings import Settings
from enclave.vectorstore import SearchMode


class SearchController(Controller):
    path = "/api/search"
    tags = ["search"]

    @get(guards=[requires("search")], opt=audited("search"))
    async def search(
        self,
        request: Request,
        answers: AnswerService,
        settings: Settings,
        principal: Principal,
        q: Annotated[str, Parameter(description="What to look for.", min_length=1)],
        k: Annotated[int, Parameter(description="How many passages.", ge=1)] = 10,
        mode: Annotated[
            SearchMode | None,
            Parameter(description="dense (meaning), sparse (BM25 words) or hybrid (both)."),
        ] = None,
        source: Annotated[
            list[str] | None, Parameter(description="Only these sources (repeatable).")
        ] = None,
        document_id: Annotated[
            list[str] | None, Parameter(description="Only these documents (repeatable).")
        ] = None,
        file_type: Annotated[
            list[str] | None, Parameter(description="Only these file types, e.g. pdf.")
        ] = None,
        modified_after: Annotated[
            str | None, Parameter(description="Files modified at or after (ISO 8601).")
        ] = None,
        modified_before: Annotated[
            str | None, Parameter(description="Files modified at or before (ISO 8601).")
        ] = None,
    ) -> SearchResponse:
        """Search the knowledge base; the best passages first. Filters apply inside the
        search, so `k` results come back whenever that many match."""
        query = clean_query(q, settings)
        filters = FiltersIn(
            source=source or [],
            document_id=document_id or [],
            file_type=file_type or [],
            modified_after=modified_after,
            modified_before=modified_before,
        ).to_search_filter()
        filters = principal.restrict(filters)  # the caller's groups, inside the query
        mode = mode or SearchMode(settings.search_mode)
        hits = await answers.search(query, check_k(k, settings), mode=mode, filters=filters)
        note(
            request,
            query=query,
            documents=[h.document_id for h in hits],
            chunks=[h.chunk_id for h in hits],
            mode=mode.value,
            k=k,
        )
        return SearchResponse(
            query=query, mode=mode.value, results=[SearchResult.from_hit(h) for h in hits]
        )
