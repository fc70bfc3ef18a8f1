"""Contribution arithmetic for BPU, from the rules in content/facts.toml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from bot.content import Content


@dataclass(frozen=True)
class Contributions:
    declared_income: Decimal
    jkk: Decimal
    jkm: Decimal
    jht: Decimal

    @property
    def mandatory(self) -> Decimal:
        """JKK + JKM, the pair every BPU member pays."""
        return self.jkk + self.jkm

    @property
    def with_jht(self) -> Decimal:
        return self.mandatory + self.jht


def compute_contributions(content: Content, declared_income: int | Decimal) -> Contributions:
    """JKK is a share of the declared income with a floor; JKM is flat; JHT (optional) a share."""
    income = max(Decimal(declared_income), content.fact("min_declared_income"))
    jkk = max(_whole(income * content.fact("jkk_rate")), content.fact("jkk_min_monthly"))
    return Contributions(
        declared_income=income,
        jkk=jkk,
        jkm=content.fact("jkm_monthly"),
        jht=_whole(income * content.fact("jht_rate")),
    )


def _whole(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)


_MULTIPLIERS = {"juta": 1_000_000, "jt": 1_000_000, "j": 1_000_000, "ribu": 1_000, "rb": 1_000, "k": 1_000}
_AMOUNT = re.compile(r"^(?:rp\.?\s*)?(\d+(?:[.,]\d+)*)\s*(juta|jt|j|ribu|rb|k)?(?:\s*(?:per|/)\s*bulan)?$")


def parse_income(text: str) -> Decimal | None:
    """Read an income the way people type it: 2000000, 2.000.000, Rp 2.500.000, 2,5 juta, 2jt, 750rb."""
    match = _AMOUNT.match(text.strip().lower().replace("rp ", "rp"))
    if match is None:
        return None
    number, unit = match.groups()
    if unit:
        # With a unit, a single separator is a decimal mark: "2,5 juta", "1.5jt".
        number = number.replace(".", ",")
        whole, _, fraction = number.partition(",")
        if "," in fraction:
            return None
        value = Decimal(f"{whole}.{fraction or 0}") * _MULTIPLIERS[unit]
    else:
        # Without a unit, separators group thousands (Indonesian 2.000.000 or English 2,000,000).
        groups = re.split(r"[.,]", number)
        if len(groups) > 1 and not all(len(g) == 3 for g in groups[1:]):
            return None
        value = Decimal("".join(groups))
    return _whole(value)
