"""End-to-end tests: a real browser, the real model, the whole path under the egress guard."""
