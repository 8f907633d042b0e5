"""A registration form that passes every check, for tests of accounts and sign-in."""

from __future__ import annotations

REGISTRATION = {
    "name": "Grace Hopper, MD",
    "email": "Grace@Example.org",
    "password": "correct horse battery",
    "profession": "physician",
    "npi": "1234567893",
    "dob_month": "12",
    "dob_day": "9",
    "report_permission": "on",
}
