"""The caller of a request: who they are, which access groups they belong to, what they may do.

Documents carry access groups; a caller sees a document when they share at least one group
with it. `groups=None` means every group: the anonymous local user of ENCLAVE_AUTH=off (a
demo bound to loopback) and keys created with `--groups '*'`.
"""

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from enclave.groups import check_group_names
from enclave.settings import Scope
from enclave.vectorstore import SearchFilter

Kind = Literal["key", "user", "proxy", "anonymous"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
ALL_GROUPS = "*"


class AccessDenied(Exception):
    """The caller may not do this (403); the message says why."""


@dataclass(frozen=True)
class Principal:
    id: str  # "key:<id>", "proxy:<user>", "local"
    kind: Kind
    name: str
    groups: tuple[str, ...] | None  # None: every group
    scopes: frozenset[str]

    @property
    def restricted(self) -> bool:
        return self.groups is not None

    def can(self, scope: Scope) -> bool:
        """`admin` holds every other scope."""
        return scope in self.scopes or "admin" in self.scopes

    def sees(self, groups: Iterable[str]) -> bool:
        """Whether a document with these access groups is visible to the caller."""
        return self.groups is None or not set(self.groups).isdisjoint(groups)

    def restrict(self, filters: SearchFilter | None) -> SearchFilter:
        """The request's filters with the caller's groups applied inside the store's query:
        a client's own conditions can only narrow what the caller may see."""
        base = filters or SearchFilter()
        if self.groups is None:
            return base
        if base.groups is None:
            return dataclasses.replace(base, groups=self.groups)
        return dataclasses.replace(base, groups=tuple(g for g in base.groups if g in self.groups))

    def assignable(self, requested: Sequence[str] | None, defaults: Sequence[str]) -> list[str]:
        """The groups a document this caller adds gets: those requested, each of which the
        caller must hold; by default ENCLAVE_DEFAULT_GROUPS they hold, else their first group.
        Empty means "the library's default" (only for an unrestricted caller)."""
        wanted = check_group_names(requested or [])
        if self.groups is None:
            return wanted
        if wanted:
            foreign = [g for g in wanted if g not in self.groups]
            if foreign:
                raise AccessDenied(
                    f"you may only assign groups you belong to; not: {', '.join(foreign)}"
                )
            return wanted
        held = [g for g in defaults if g in self.groups]
        if held:
            return held
        if not self.groups:
            raise AccessDenied("you belong to no access group, so nothing you add could be seen")
        return [self.groups[0]]


ANONYMOUS = Principal("local", "anonymous", "local", None, frozenset(SCOPES))
"""The caller when ENCLAVE_AUTH=off: only allowed on a loopback address, it may do and see
everything (the embedded demo)."""
