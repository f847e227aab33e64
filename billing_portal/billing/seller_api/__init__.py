"""What the REST API (/api/v1) does for the seller's own app: customers by external_id, and reads of
the catalog, subscriptions, invoices, payments, refunds, credits and stats. Pydantic models in
schemas.py are both the validation of what comes in and the OpenAPI document of what goes out."""
