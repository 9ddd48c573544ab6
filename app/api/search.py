"""GET /api/search: the passages nearest to a query."""

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter

from app.answers import AnswerService
from app.schemas import SearchResponse, SearchResult
from app.validation import check_k, clean_query
from enclave.settings import Settings


class SearchController(Controller):
    path = "/api/search"
    tags = ["search"]

    @get()
    async def search(
        self,
        answers: AnswerService,
        settings: Settings,
        q: Annotated[str, Parameter(description="What to look for.", min_length=1)],
        k: Annotated[int, Parameter(description="How many passages.", ge=1)] = 10,
    ) -> SearchResponse:
        """Search the knowledge base; the best passages first."""
        query = clean_query(q, settings)
        hits = await answers.search(query, check_k(k, settings))
        return SearchResponse(query=query, results=[SearchResult.from_hit(h) for h in hits])
