"""Tests of ingestion, ingest/."""
