"""The index as the service changes it outside ingestion jobs: delete a document (with its
attachments) and re-label its chunks' access groups.

`ingest.pipeline.Ingestor` implements it. The web service receives one from app/services.py,
the one module of app/ that builds ingestion parts (the seam between the wings), and knows
it only by this protocol.
"""

from typing import Protocol

from enclave.vectorstore import VectorStore


class DocumentIndex(Protocol):
    store: VectorStore

    def delete_document(self, document_id: str) -> bool:
        """Remove the document and its attachments from the store and the database; False
        when there is no such document."""
        ...
