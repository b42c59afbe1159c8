"""Reference numbers in the format the API uses, e.g. `20250514-CR-226FB7B000-3ACF9BE4C0-10`.

Layout: date, two-letter kind (CR challenge, AU authentication, EC KSeF token,
EH certificate enrollment, EG permission operation), a time-derived and a
random 10-hex-digit part, and a CRC-8 check of everything before it.
"""

from __future__ import annotations

import re
import secrets
import time

REFERENCE_PATTERN = re.compile(r"^\d{8}-[A-Z]{2}-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}$")

CHALLENGE = "CR"
AUTHENTICATION = "AU"
KSEF_TOKEN = "EC"
CERTIFICATE_ENROLLMENT = "EH"
PERMISSION_OPERATION = "EG"  # the contract's example of a grant's referenceNumber


def crc8(data: bytes, poly: int = 0x07) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _bit in range(8):
            crc = ((crc << 1) ^ poly) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def new_reference(kind: str) -> str:
    now_ns = time.time_ns()
    date = time.strftime("%Y%m%d", time.gmtime(now_ns / 1e9))
    ticks = (now_ns // 100) % 16**10  # 100 ns ticks, like the real numbers' first part
    body = f"{date}-{kind}-{ticks:010X}-{secrets.token_hex(5).upper()}"
    return f"{body}-{crc8(body.encode()):02X}"


def is_reference(value: str) -> bool:
    return bool(REFERENCE_PATTERN.match(value or ""))
