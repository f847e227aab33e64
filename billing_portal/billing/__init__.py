"""The billing engine: pure rules and use cases. Imports nothing from Reflex."""
