"""Gateways: the only code that talks to outside services (Stripe, file storage, PDF rendering)."""
