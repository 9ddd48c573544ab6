"""Per-folder access groups: a `.enclave-acl` file in a source's folder.

The file names the access groups of every document in its folder and the folders below it,
in place of the source's groups; the nearest file wins, so a subfolder can narrow (or widen)
what its parent says. Group names are separated by commas, spaces or new lines; `#` starts a
comment:

    # HR only, whatever the source says
    hr, hr-managers

A file that cannot be read or names an invalid group makes its documents fail with that
reason instead of falling back to broader groups: access must never widen by accident.
"""

from functools import lru_cache
from pathlib import Path

from enclave.groups import check_group_names

ACL_FILE = ".enclave-acl"


class AclError(ValueError):
    """An `.enclave-acl` file that cannot be used; the message names it and says why."""


def folder_groups(path: Path, root: Path) -> list[str] | None:
    """The groups the nearest `.enclave-acl` between `path`'s folder and `root` gives it,
    or None when no folder on the way has one."""
    folder = path.parent
    while True:
        candidate = folder / ACL_FILE
        if candidate.is_file():
            stat = candidate.stat()
            return list(_read(candidate, stat.st_mtime_ns, stat.st_size))
        if folder == root or folder == folder.parent or not folder.is_relative_to(root):
            return None
        folder = folder.parent


@lru_cache(maxsize=1024)
def _read(path: Path, mtime_ns: int, size: int) -> tuple[str, ...]:
    """Parsed once per version of the file (its mtime and size are part of the key)."""
    del mtime_ns, size
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise AclError(f"cannot read {path}: {error}") from None
    names = []
    for line in text.splitlines():
        names.extend(line.split("#", 1)[0].replace(",", " ").split())
    try:
        groups = check_group_names(names)
    except ValueError as error:
        raise AclError(f"{path}: {error}") from None
    if not groups:
        raise AclError(f"{path} names no group: list at least one, or delete the file")
    return tuple(groups)
