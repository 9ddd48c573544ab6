"""What the service (app/) and the ingestion worker (ingest/) share: settings, the database,
the embedder and the vector store — one home each, one way to build them.

Importing this package first switches the ML libraries to offline mode (see `offline`)."""

from enclave.offline import enforce_offline

enforce_offline()
