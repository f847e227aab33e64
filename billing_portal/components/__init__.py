"""Reusable Reflex UI pieces (no state logic, no service calls)."""
