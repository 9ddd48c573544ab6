"""The `enclave` command line: an entry point above both wings, like app/main.py.

It may import the web service (app/), the ingestion worker (ingest/) and the core
(enclave/); nothing imports it. `main` is the click group; each command family has its own
module (`ingest`, `doctor`, `eval`, `keys`, `users`, `audit`), and `common` what they share.
"""
