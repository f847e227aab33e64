"""Thin Reflex states: check the signed-in user, call one service, keep only what the page shows."""
