"""Where things are, independent of where a test module sits in tests/: the repository's
root (ROOT), and from it samples/, ../shared and tests/artifacts (conftest.py exports
SAMPLES and SHARED, browsers.py ARTIFACTS). Imports nothing else, so a child process can
import it cheaply."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
