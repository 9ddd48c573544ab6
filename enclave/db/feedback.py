"""Stored feedback on answers: add one, list the newest for administrators."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from enclave.db.models import Feedback


class FeedbackRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        question: str,
        answer: str,
        citations: Sequence[dict[str, Any]],
        rating: int,
        comment: str | None = None,
    ) -> Feedback:
        if rating not in (-1, 1):
            raise ValueError(f"rating must be 1 or -1, not {rating}")
        feedback = Feedback(
            question=question,
            answer=answer,
            citations=list(citations),
            rating=rating,
            comment=comment or None,
        )
        self.session.add(feedback)
        self.session.flush()
        return feedback

    def get(self, feedback_id: str) -> Feedback | None:
        return self.session.get(Feedback, feedback_id)

    def recent(self, limit: int = 100, offset: int = 0) -> Sequence[Feedback]:
        return self.session.scalars(
            select(Feedback)
            .order_by(Feedback.created_at.desc(), Feedback.id)
            .limit(limit)
            .offset(offset)
        ).all()

    def totals(self) -> dict[int, int]:
        """How many answers were rated up (1) and down (-1)."""
        rows = self.session.execute(
            select(Feedback.rating, func.count()).group_by(Feedback.rating)
        ).all()
        return {1: 0, -1: 0} | {rating: count for rating, count in rows}
