"""Bolt listeners, one per file."""
