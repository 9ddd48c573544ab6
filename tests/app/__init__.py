"""Tests of the web service, app/."""
