"""What a customer may do in the seller's app now: plan, status, limits, features, usage, storage."""
