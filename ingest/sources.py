"""Which files belong to a source: its root walked, filtered by include/exclude globs."""

from fnmatch import fnmatch
from pathlib import Path

from enclave.db import Source
from ingest.discovery import discover


def _matches(relative: str, patterns: str | None) -> bool:
    if not patterns:
        return False
    for pattern in (p.strip() for p in patterns.split(",")):
        # "**/*.pdf" should also match "a.pdf" at the top of the folder.
        top_level = pattern.removeprefix("**/")
        if pattern and (fnmatch(relative, pattern) or fnmatch(relative, top_level)):
            return True
    return False


def source_files(source: Source) -> list[Path]:
    """The source's files today; empty when its root has gone."""
    root = Path(source.root)
    found = discover([root])
    if root.is_file():
        return found.files
    files = []
    for path in found.files:
        relative = path.relative_to(root).as_posix()
        if source.include and source.include != "**/*" and not _matches(relative, source.include):
            continue
        if _matches(relative, source.exclude):
            continue
        files.append(path)
    return files
