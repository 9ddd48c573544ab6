"""JSON API controllers."""
