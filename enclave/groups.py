"""Access group names, as documents, chunk payloads, keys and users carry them."""

import re
from collections.abc import Iterable

_GROUP = re.compile(r"^[\w.@+-]{1,64}$")


def check_group_names(groups: Iterable[str]) -> list[str]:
    """Group names as stored in payloads and JSON columns: letters, digits and `_.@+-`."""
    names = [g.strip() for g in groups if g.strip()]
    bad = [g for g in names if not _GROUP.match(g)]
    if bad:
        raise ValueError(
            f"invalid group name(s): {', '.join(map(repr, bad))} "
            "(letters, digits and _ . @ + - only, at most 64 characters)"
        )
    return list(dict.fromkeys(names))
