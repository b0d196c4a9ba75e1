"""Metrics read from build products and run logs."""
