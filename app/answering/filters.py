"""Search filters as clients send them (query parameters or a JSON object), and their
translation into the store's SearchFilter."""

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from litestar.exceptions import ValidationException

from enclave.vectorstore import SearchFilter

Values = Annotated[list[str], msgspec.Meta(max_length=100)]
Moment = Annotated[
    str, msgspec.Meta(description="ISO 8601 date or date-time, e.g. 2024-05-01; UTC if no zone.")
]


class FiltersIn(msgspec.Struct, forbid_unknown_fields=True):
    """Only chunks matching every given condition are searched; a list matches any of its
    values."""

    source: Values = []
    document_id: Values = []
    file_type: Values = []
    modified_after: Moment | None = None
    modified_before: Moment | None = None

    def to_search_filter(self) -> SearchFilter:
        """The store's filter; a ValidationException (400) for dates that make no sense."""
        after = _moment(self.modified_after, "modified_after")
        before = _moment(self.modified_before, "modified_before")
        if after and before and after > before:
            raise ValidationException("'modified_after' is later than 'modified_before'.")
        return SearchFilter(
            sources=tuple(self.source),
            document_ids=tuple(self.document_id),
            file_types=tuple(t.lower().lstrip(".") for t in self.file_type),
            modified_after=after,
            modified_before=before,
        )


def _moment(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationException(
            f"'{field}' must be an ISO 8601 date or date-time such as 2024-05-01 or "
            f"2024-05-01T12:00:00Z, not {value!r}."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
