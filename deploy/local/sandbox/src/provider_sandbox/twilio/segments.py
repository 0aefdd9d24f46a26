"""How many SMS segments a body takes: GSM-7 fits 160 characters (153 per part when split; the
extension table's characters count twice), anything else is UCS-2, 70 code units (67 per part)."""

from __future__ import annotations

import math

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


def num_segments(body: str) -> int:
    if not body:
        return 1
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in body):
        septets = sum(2 if c in GSM7_EXTENSION else 1 for c in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)
