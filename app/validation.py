"""Checks on user text and limits that depend on settings (static ones live in the schemas)."""

from collections.abc import Sequence

from litestar.exceptions import ValidationException

from app.answering.conversation import Turn
from enclave.settings import Settings


def clean_query(text: str, settings: Settings, field: str = "q") -> str:
    text = text.strip()
    if "\x00" in text:  # PostgreSQL cannot store it (the audit trail keeps queries)
        raise ValidationException(f"'{field}' must not contain NUL characters.")
    if not text:
        raise ValidationException(f"'{field}' must not be empty.")
    if len(text) > settings.max_query_chars:
        raise ValidationException(
            f"'{field}' is {len(text)} characters long; the limit is {settings.max_query_chars}."
        )
    return text


def check_k(k: int, settings: Settings) -> int:
    if not 1 <= k <= settings.max_top_k:
        raise ValidationException(f"'k' must be between 1 and {settings.max_top_k}.")
    return k


def check_history(turns: Sequence[Turn], settings: Settings) -> list[Turn]:
    """Earlier turns, within the configured number and length; blank turns are refused."""
    if len(turns) > settings.max_history_turns:
        raise ValidationException(
            f"'history' has {len(turns)} turns; the limit is {settings.max_history_turns}."
        )
    for index, turn in enumerate(turns):
        content = turn.content.strip()
        if not content:
            raise ValidationException(f"'history[{index}].content' must not be empty.")
        if len(content) > settings.max_turn_chars:
            raise ValidationException(
                f"'history[{index}].content' is {len(content)} characters long; the limit is "
                f"{settings.max_turn_chars}."
            )
    return [Turn(t.role, t.content.strip()) for t in turns]


# Paging further than this is a client bug, and larger integers overflow the database's.
MAX_OFFSET = 1_000_000
