"""Portal sign-in links for the seller's app: one-time, expiring, stored hashed (service.py)."""
