"""The search page: server-rendered results; the answer streams in with a little JavaScript,
or is rendered on the server when asked for without it."""

from typing import Annotated, Any

from litestar import Controller, get
from litestar.exceptions import ValidationException
from litestar.params import Parameter
from litestar.response import Template

from app.answers import AnswerService
from app.generation import Generator, GeneratorBusy
from app.validation import check_k, clean_query
from enclave.settings import Settings


class PageController(Controller):
    include_in_schema = False

    @get("/")
    async def home(
        self,
        answers: AnswerService,
        generator: Generator,
        settings: Settings,
        q: Annotated[str, Parameter(max_length=10_000)] = "",
        answer: bool = False,
    ) -> Template:
        context: dict[str, Any] = {"q": q, "results": [], "answer": None, "error": None}
        if q.strip():
            try:
                query = clean_query(q, settings)
            except ValidationException as error:
                context["error"] = error.detail
                return Template("index.html", context=context, status_code=400)
            context["results"] = await answers.search(
                query, check_k(settings.search_top_k, settings)
            )
            if answer:
                context["answer"] = await _answer_or_busy(answers, generator, query, settings)
        return Template("index.html", context=context)


async def _answer_or_busy(
    answers: AnswerService, generator: Generator, query: str, settings: Settings
) -> Any:
    try:
        with generator.admit():
            return await answers.ask(query, settings.ask_top_k)
    except GeneratorBusy as busy:
        return {"busy": True, "retry_after": busy.retry_after}
