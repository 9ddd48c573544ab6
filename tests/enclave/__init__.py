"""Tests of the shared core, enclave/."""
