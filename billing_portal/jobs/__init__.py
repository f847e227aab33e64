"""Idempotent jobs and the in-process runner that runs them when they are due."""
