"""The seller's server keys for the REST API (/api/v1): create, list, revoke, authenticate."""
