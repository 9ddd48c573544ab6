"""Ingestion: find files → parse (unstructured) → chunk by structure → embed → upsert to Qdrant,
recording each document in the database."""

import enclave  # noqa: F401  (switches the parsing and ML libraries offline before they load)
