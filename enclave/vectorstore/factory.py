"""Which store to open: the one place that knows every backend.

It sits above `base` (which the backends derive from) so that the interface does not import
its own implementations. The backends are imported when a store is opened, not when this
package is: qdrant-client and qdrant-edge are slow to load, and most commands never open one.
"""

from enclave.settings import Settings
from enclave.vectorstore.base import VectorStore


def open_store(settings: Settings) -> VectorStore:
    """The one way to build the store: a server when ENCLAVE_QDRANT_URL is set, else the
    embedded engine chosen by ENCLAVE_EMBEDDED_STORE."""
    if settings.qdrant_url:
        from enclave.vectorstore.qdrant import QdrantStore

        return QdrantStore.connect(settings)
    if settings.embedded_store == "edge":
        from enclave.vectorstore.edge import EdgeStore

        return EdgeStore.open(settings)
    from enclave.vectorstore.qdrant import QdrantStore

    return QdrantStore.open_local(settings)
