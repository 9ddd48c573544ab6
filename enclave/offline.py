"""Data never leaves: switch the libraries we embed to offline, telemetry-free mode.

This must run before `huggingface_hub`, `transformers`, `sentence_transformers` or
`unstructured` are imported: some of them read these variables once at import time
(unstructured pings its analytics host from `import unstructured` unless told not to).
"""

import os

# Each of these is honoured by the named library; values are the documented "off" switches.
OFFLINE_ENVIRONMENT: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",  # huggingface_hub: never contact the hub
    "TRANSFORMERS_OFFLINE": "1",  # transformers: local files only
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",  # unstructured (scarf analytics) and others following the convention
    "SCARF_NO_ANALYTICS": "1",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",  # no fork warnings from HF tokenizers under uvicorn
}


def enforce_offline() -> None:
    """Force the offline switches; an operator cannot turn telemetry back on by accident."""
    os.environ.update(OFFLINE_ENVIRONMENT)
