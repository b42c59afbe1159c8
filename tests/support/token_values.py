"""Small shared helpers for the store tests (token values shaped like KSeF's, a TokenMeta)."""
from __future__ import annotations

import secrets

from ansible_collections.ksef.credentials.plugins.module_utils._stores import TokenMeta

CONTEXT = "nip-5265877635"


def token_value(reference_number: str | None = None) -> tuple[str, str]:
    """(value, reference number) of a fresh value shaped like a KSeF token."""
    ref = reference_number or f"20251010-EC-{secrets.token_hex(5).upper()}-{secrets.token_hex(5).upper()}-{secrets.token_hex(1).upper()}"
    return f"{ref}|{CONTEXT}|{secrets.token_hex(32)}", ref


def meta_for(reference_number: str, name: str = "erp-sender") -> TokenMeta:
    return TokenMeta(name=name, reference_number=reference_number, permissions=["InvoiceRead", "InvoiceWrite"],
                     created="2025-10-10T08:00:00+00:00", context=CONTEXT)
