"""The search page: results rendered on the server (works without JavaScript); the answer
streams in above them with app/static/ask.js, or is rendered here when asked for without it."""

import re
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.exceptions import ValidationException
from litestar.params import Parameter
from litestar.response import Template

from app.answering.answers import Answer, AnswerService
from app.answering.filters import FiltersIn
from app.answering.generation import Generator, GeneratorBusy
from app.library import Library
from app.schemas import AskRequest
from app.security.audit import generation_settings, note, note_answer, record_start
from app.security.auth import requires
from app.security.routes import audited
from app.validation import check_k, clean_query
from app.web.highlight import link_citations
from app.web.views import facets, file_url, result_views
from enclave.access.principal import Principal
from enclave.settings import Settings
from enclave.vectorstore import SearchFilter

_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
Short = Annotated[str, Parameter(max_length=200)]


def page_filters(
    source: str, file_type: str, modified_after: str, modified_before: str
) -> FiltersIn:
    """The form's filters (empty fields mean "any"); a bare "to" date includes that day."""
    before = modified_before.strip() or None
    if before and _BARE_DATE.match(before):
        before += "T23:59:59.999999"
    return FiltersIn(
        source=[source] if source.strip() else [],
        file_type=[file_type] if file_type.strip() else [],
        modified_after=modified_after.strip() or None,
        modified_before=before,
    )


class SearchPage(Controller):
    include_in_schema = False

    @get("/", guards=[requires("search")], opt=audited("search"))
    async def home(
        self,
        request: Request[Any, Any, Any],
        answers: AnswerService,
        generator: Generator,
        library: Library,
        settings: Settings,
        principal: Principal,
        q: Annotated[str, Parameter(max_length=10_000)] = "",
        answer: bool = False,
        source: Short = "",
        file_type: Short = "",
        modified_after: Short = "",
        modified_before: Short = "",
    ) -> Template:
        selected = {
            "source": source,
            "file_type": file_type,
            "modified_after": modified_after,
            "modified_before": modified_before,
        }
        context: dict[str, Any] = {
            "q": q,
            "selected": selected,
            "results": [],
            "answer": None,
            "error": None,
            "facets": facets(library.database, principal.groups),
            "ask_fields": ",".join(AskRequest.__struct_fields__),
            "filters_json": "{}",
        }
        if not q.strip():
            return Template("index.html", context=context)
        try:
            query = clean_query(q, settings)
            wanted = page_filters(source, file_type, modified_after, modified_before)
            filters = principal.restrict(wanted.to_search_filter())
        except ValidationException as error:
            context["error"] = error.detail
            return Template("index.html", context=context, status_code=400)
        context["filters_json"] = msgspec.json.encode(
            {k: v for k, v in msgspec.structs.asdict(wanted).items() if v}
        ).decode()
        hits = await answers.search(
            query, check_k(settings.search_top_k, settings), filters=filters
        )
        context["results"] = result_views(hits, query, library)
        if answer and principal.can("ask"):
            context["answer"] = await _answer(request, answers, generator, query, settings, filters)
        return Template("index.html", context=context)


async def _answer(
    request: Request[Any, Any, Any],
    answers: AnswerService,
    generator: Generator,
    query: str,
    settings: Settings,
    filters: SearchFilter,
) -> dict[str, Any]:
    # Audited as a question, like /api/ask: stored before the model runs (a crash while
    # generating leaves it, `incomplete`), completed with the passages read once answered.
    note(request, action="ask", **generation_settings(settings, settings.ask_top_k, None))
    await record_start(request)
    try:
        with generator.admit():
            found = await answers.ask(query, settings.ask_top_k, filters=filters)
    except GeneratorBusy as busy:
        note(request, busy=True)
        return {"busy": True, "retry_after": busy.retry_after}
    note_answer(request, found)
    return _answer_view(found)


def _answer_view(found: Answer) -> dict[str, Any]:
    sources = [
        {
            "n": n,
            "title": hit.title,
            "source": hit.source,
            "page": hit.page,
            "url": file_url(hit.document_id, hit.file_type, hit.page),
        }
        for n, hit in enumerate(found.passages, start=1)
    ]
    return {
        "busy": False,
        "text": found.answer,
        "html": link_citations(found.answer, "source-0-", set(range(1, len(sources) + 1))),
        "abstained": found.abstained,
        "sources": sources,
        "cited": {c.n for c in found.citations},
    }
