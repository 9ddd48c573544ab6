"""The Litestar service: HTTP API and pages, retrieval, prompting and generation."""

import enclave  # noqa: F401  (switches the ML libraries offline before they load)
