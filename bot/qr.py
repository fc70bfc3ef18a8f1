"""QR codes of officers' personal links, to print for a market stall or a village meeting."""

from __future__ import annotations

import io

import segno


def qr_png(link: str, scale: int = 12) -> bytes:
    """A PNG big enough to print on A5 and still scan from a metre away (error correction level M)."""
    buffer = io.BytesIO()
    segno.make(link, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
