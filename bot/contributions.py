"""Contribution arithmetic for BPU, from the rules in content/facts.toml: what a declared income costs a month."""

from __future__ import annotations

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
    jkk = max(whole_rupiah(income * content.fact("jkk_rate")), content.fact("jkk_min_monthly"))
    return Contributions(
        declared_income=income,
        jkk=jkk,
        jkm=content.fact("jkm_monthly"),
        jht=whole_rupiah(income * content.fact("jht_rate")),
    )


def whole_rupiah(amount: Decimal) -> Decimal:
    """Rounded to the rupiah, halves up, as the contributions are billed."""
    return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)
