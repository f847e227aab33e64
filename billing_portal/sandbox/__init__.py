"""Local stand-ins for the portal's outside services (the Stripe sandbox) used by `make run` and tests."""
