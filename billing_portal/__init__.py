"""Billing Portal: a self-hostable billing engine and customer portal built with Reflex."""
