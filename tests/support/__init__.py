"""Helpers shared by the tests (not tests themselves, except test_tiny_gguf.py for tiny_gguf.py)."""
