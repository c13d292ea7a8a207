"""Test helpers shared by several suites (in-process fake servers)."""
