"""Pytest fixtures for repository storage tests (filled in below)."""
