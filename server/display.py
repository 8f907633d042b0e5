"""How amounts read on a page: "1 AMA PRA Category 1 Credit™", "1.5 ANCC contact hours".

Plain rules, values in and values out; the templates reach them through Jinja filters (server/app.py).
The AMA's style for the credit designation is "AMA PRA Category 1 Credit™" in the singular and
"Credits™" in the plural (AMA PRA Booklet, 2017 revision, "Use of the AMA credit designation
statement"); certificates are the credit rules' own business and are not formatted here.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

__all__ = ["CREDIT_UNITS", "amount_text", "credit_phrase"]

# Each credit type's unit: (singular, plural).
CREDIT_UNITS: dict[str, tuple[str, str]] = {
    "ama_pra_1": ("AMA PRA Category 1 Credit™", "AMA PRA Category 1 Credits™"),
    "ancc": ("ANCC contact hour", "ANCC contact hours"),
    "acpe": ("ACPE contact hour", "ACPE contact hours"),
    "participation": ("participation hour", "participation hours"),
}


def amount_text(amount: object) -> str:
    """``1.0`` -> "1", ``1.50`` -> "1.5", ``0.25`` -> "0.25"; anything else as it is."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return str(amount)
    if not value.is_finite():
        return str(amount)
    text = format(value.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".")


def credit_phrase(amount: object, credit_type: str) -> str:
    """The amount with its unit, singular for exactly one: "1 AMA PRA Category 1 Credit™"."""
    text = amount_text(amount)
    singular, many = CREDIT_UNITS.get(credit_type, (credit_type, credit_type))
    return f"{text} {singular if text == '1' else many}"
