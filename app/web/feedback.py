"""Feedback on answers, listed for administrators (the 'admin' scope), without feedback citing
a document the administrator may not see."""

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter
from litestar.response import Template

from app.api.feedback import visible_feedback
from app.security.auth import requires
from app.services import Services
from app.web.views import when
from enclave.access.principal import Principal
from enclave.db.feedback import FeedbackRepository


class FeedbackPage(Controller):
    path = "/admin/feedback"
    include_in_schema = False
    guards = [requires("admin")]

    @get(sync_to_thread=True)
    def feedback(
        self,
        services: Services,
        principal: Principal,
        page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
    ) -> Template:
        with services.database.session() as session:
            repository = FeedbackRepository(session)
            entries = [
                {
                    "created_at": when(f.created_at),
                    "question": f.question,
                    "answer": f.answer,
                    "citations": f.citations,
                    "rating": f.rating,
                    "comment": f.comment,
                }
                for f in visible_feedback(
                    repository.recent(100, (page - 1) * 100), services.library, principal
                )
            ]
            totals = repository.totals()
        return Template(
            "feedback.html", context={"entries": entries, "totals": totals, "page": page}
        )
