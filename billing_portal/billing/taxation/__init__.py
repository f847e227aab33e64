"""Which tax applies, and whose number says so.

- `tax_ids`: a buyer's tax ID checked by the rules of its country with python-stdnum (check digits
  included: EU VAT numbers of every member state, Korea's business registration number, a US EIN, UK
  VAT, and every other country stdnum knows a VAT/business number of), kept in one canonical form.
- `rules`: the tax an invoice of a customer carries: the operator's rate for the buyer's country
  (TAX_RATES), except the EU B2B reverse charge (seller and buyer in different EU member states,
  buyer with a valid VAT ID: zero tax, "Reverse charge" on the invoice), with the rounding of the
  currency (KR_VAT_ROUNDING for won) and the words that say which rule applied.

The arithmetic (per-line tax, rounding, totals) is billing/tax.py's.
"""

from billing_portal.billing.taxation.rules import AppliedTax, applied_tax, rounding_for
from billing_portal.billing.taxation.tax_ids import normalize_tax_id

__all__ = ["AppliedTax", "applied_tax", "normalize_tax_id", "rounding_for"]
