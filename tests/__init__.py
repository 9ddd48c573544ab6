"""Enclave test suite."""
