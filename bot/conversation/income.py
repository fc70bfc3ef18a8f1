"""A monthly income read from what a worker typed ("2jt sebulan", "100rb per hari", "dua juta"), or nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from bot.contributions import whole_rupiah

Per = Literal["month", "day", "week", "year"]


@dataclass(frozen=True)
class TypedIncome:
    """An income as a worker typed it: `amount` per `per`, and what that makes per month."""

    monthly: Decimal
    per: Per
    amount: Decimal


def read_income(text: str, days_per_month: int, weeks_per_month: int = 4) -> TypedIncome | None:
    """Read a monthly income the way Indonesian workers type it, or None when the text holds no amount.

    Figures ("2.000.000", "2,000,000", "1,5 juta", "800k", "rp750rb") and number words ("dua setengah juta",
    "tiga juta lima ratus ribu", "sejuta") are read with their unit; a day or week figure ("100rb/hari",
    "seminggu 500rb") is multiplied by `days_per_month` or `weeks_per_month`. Words around the figure do not
    matter ("kurang lebih 3 juta", "2 juta lebih" is 2.000.000).

    Several figures, a range ("1-2 juta", "1 sampai 2 juta") or alternatives ("kadang 1 juta kadang 2 juta"),
    give the midpoint of the lowest and highest monthly figure: 1.500.000. A midpoint is neither the worker's
    best nor worst month, and the bot shows the figure it used so the worker can type another. `per` and
    `amount` are then the shared period and the midpoint as typed, or "month" and the monthly midpoint when the
    figures have different periods.

    Not incomes, so None: phone numbers (08..., 628..., +62 8...) and 16-digit NIKs, a bare number below 1.000
    without a unit ("58", "umur 45"), a negative figure, an unreadable figure ("1,2,3 juta") and "2 juta 500"
    (2.000.500 or, as said aloud, 2.500.000). Said in words, "tiga juta lima ratus" is read as people say it,
    3.500.000. Regional number words (duo juto, satus ewu) and words run together ("limapuluh") are read too.
    There is no upper bound: the caller decides what is too large.
    """
    text = text.casefold()
    if _NEGATIVE.match(text):
        return None
    # Removed rather than refused, so "2 juta, wa 081234567890" still reads the income.
    text = _NIK.sub(" ", _PHONE.sub(" ", text))
    text = _UNTIL.sub(" sampai ", text)
    atoms = _atoms(_spoken(_TOKEN.findall(text)))
    if atoms is None:
        return None
    figures = _Reader().read(atoms)
    if figures is None:
        return None
    figures = _incomes(figures, atoms)
    if not figures:
        return None

    months = {
        "month": Decimal(1),
        "day": Decimal(days_per_month),
        "week": Decimal(weeks_per_month),
        "year": Decimal(1) / 12,
    }
    monthly = [f.value * months[f.period or "month"] for f in figures]
    periods = {f.period or "month" for f in figures}
    if len(periods) == 1:
        per = periods.pop()
        amount = (min(f.value for f in figures) + max(f.value for f in figures)) / 2
    else:
        per, amount = "month", (min(monthly) + max(monthly)) / 2
    return TypedIncome(monthly=whole_rupiah(amount * months[per]), per=per, amount=whole_rupiah(amount))


# Indonesian mobile numbers: 08.., 628.., +62 8.. with at least 10 digits, spaces, dots or dashes between groups.
_PHONE = re.compile(r"(?<![\d.,])(?:\+?62|0)[\s.-]?8(?:[\s.-]?\d){8,}")
_NIK = re.compile(r"(?<![\d.,])\d{16}(?![\d.,]?\d)")
# Only a minus glued to the first figure: "- 2 juta" is a list bullet, "-2000000" a negative amount.
_NEGATIVE = re.compile(r"\s*-\d")
_UNTIL = re.compile(r"\bs\s*[./]\s*d\b\.?")  # s/d, s.d.: "sampai dengan"
# Letters and digits split apart, so "rp750rb" is rp, 750, rb and "2jt/bln" is 2, jt, /, bln.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|[-~/]")

_THOUSAND, _MILLION = Decimal(1_000), Decimal(1_000_000)
_MOST_DIGITS = 15
_SCALES = dict.fromkeys(["ribu", "rb", "rbu", "rebu", "ribuan", "k", "thousand"], _THOUSAND) | dict.fromkeys(
    ["juta", "jt", "jta", "jtan", "jutaan", "jeti", "million", "mio"], _MILLION
)
_DIGITS = {
    w: Decimal(n)
    for n, w in enumerate(["nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan"])
}
_SE_NUMBERS = {"sepuluh": Decimal(10), "sebelas": Decimal(11), "seratus": Decimal(100)}
_SE_SCALES = {"seribu": _THOUSAND, "sejuta": _MILLION}
_PERIODS: dict[str, Per] = {
    **dict.fromkeys(["hari", "hr", "hri", "sehari", "perhari", "harian"], "day"),
    **dict.fromkeys(["minggu", "mgg", "seminggu", "perminggu", "mingguan", "pekan", "sepekan", "perpekan"], "week"),
    **dict.fromkeys(["bulan", "bln", "bl", "sebulan", "sebln", "perbulan", "perbln", "bulanan", "month"], "month"),
    **dict.fromkeys(["thn", "setahun", "pertahun", "tahunan", "year"], "year"),  # not "tahun": "tahun 2024"
    **dict.fromkeys(["day", "daily"], "day"),
    **dict.fromkeys(["week", "weekly"], "week"),
}
# Number words of Bengkulu and Palembang Malay, Minang and Javanese, and common misspellings, as Indonesian.
_SPELLINGS = {
    "duo": "dua",
    "tigo": "tiga",
    "ampek": "empat",
    "limo": "lima",
    "anam": "enam",
    "tujuah": "tujuh",
    "salapan": "delapan",
    "sambilan": "sembilan",
    "juto": "juta",
    "yuta": "juta",
    "sajuta": "sejuta",
    "saratuih": "seratus",
    "saratus": "seratus",
    "ratuih": "ratus",
    "ribo": "ribu",
    "ewu": "ribu",
    "siji": "satu",
    "loro": "dua",
    "telu": "tiga",
    "papat": "empat",
    "limang": "lima",
    "pitu": "tujuh",
    "wolu": "delapan",
    "songo": "sembilan",
    "satus": "seratus",
    "sewu": "seribu",
    "sedino": "sehari",
    "dino": "hari",
    "sehri": "sehari",
    "seari": "sehari",
    "sbln": "sebulan",
}
_NUMBER_WORDS = (
    set(_DIGITS) | set(_SE_NUMBERS) | set(_SE_SCALES) | set(_SCALES) | {"belas", "puluh", "ratus", "setengah"}
) - {"k", "rb", "jt"}


def _spoken(tokens: list[str]) -> list[str]:
    """Tokens as the reader knows them: regional words spelled out, number words run together split
    ("limapuluh", "satujutaduaratus"), and a trailing "ratus" after "juta" read as hundreds of thousands."""
    out: list[str] = []
    for token in tokens:
        token = _SPELLINGS.get(token, token)
        out += _split_glued(token) if token.isalpha() and token not in _NUMBER_WORDS else [token]
    for i, token in enumerate(out):
        following = out[i + 1] if i + 1 < len(out) else ""
        if token == "ratus" and "juta" in out[:i] and following not in _SCALES and following not in _SE_SCALES:
            return [*out[: i + 1], "ribu", *out[i + 1 :]]
    return out


def _split_glued(token: str) -> list[str]:
    """A token made only of number words, split into them; anything else as it is."""
    parts: list[str] = []
    rest = token
    while rest:
        word = next((w for w in sorted(_NUMBER_WORDS, key=len, reverse=True) if rest.startswith(w)), None)
        if word is None:
            return [token]
        parts.append(word)
        rest = rest[len(word) :]
    return parts


_RANGE = {"-", "~", "sampai", "sampe", "smp", "ampe", "hingga", "atau"}
_LINKS = {"/", "per", "tiap", "setiap"}  # between a figure and its period: "100rb per hari", "2jt/bln"


@dataclass(frozen=True)
class _Atom:
    kind: str  # number, digit, se_number, times, half, comma, scale, se_scale, period, range, link, other
    value: Decimal = Decimal(0)
    text: str = ""
    period: Per | None = None


def _atoms(tokens: list[str]) -> list[_Atom] | None:
    """The tokens as number parts, units, periods and range words; None when a figure cannot be read."""
    atoms = []
    for i, token in enumerate(tokens):
        if token[0].isdecimal():  # "²" is a digit to isdigit(), not to Decimal
            before_millions = i + 1 < len(tokens) and _SCALES.get(tokens[i + 1]) == _MILLION
            number = _figure(token, before_millions)
            if number is None:
                return None
            atoms.append(_Atom("number", number, token))
        elif token in _DIGITS:
            atoms.append(_Atom("digit", _DIGITS[token], str(_DIGITS[token])))
        elif token in _SE_NUMBERS:
            atoms.append(_Atom("se_number", _SE_NUMBERS[token]))
        elif token in ("belas", "puluh", "ratus"):
            atoms.append(_Atom("times", Decimal({"belas": 10, "puluh": 10, "ratus": 100}[token]), token))
        elif token in ("setengah", "stengah"):
            atoms.append(_Atom("half"))
        elif token == "koma":
            atoms.append(_Atom("comma"))
        elif token in _SCALES:
            atoms.append(_Atom("scale", _SCALES[token]))
        elif token in _SE_SCALES:
            atoms.append(_Atom("se_scale", _SE_SCALES[token]))
        elif token in _PERIODS:
            atoms.append(_Atom("period", period=_PERIODS[token]))
        elif token in _RANGE:
            atoms.append(_Atom("range"))
        elif token in _LINKS:
            atoms.append(_Atom("link"))
        else:
            atoms.append(_Atom("other"))
    return atoms


def _figure(token: str, before_millions: bool) -> Decimal | None:
    """A figure's value, its . and , read as thousands or decimal marks from the digit groups around them."""
    marks = [c for c in token if c in ".,"]
    groups = re.split(r"[.,]", token)
    if sum(map(len, groups)) > _MOST_DIGITS:
        return None  # no income has so many digits, and Decimal's context would overflow on multiplying
    if not marks:
        return Decimal(token)
    if len(set(marks)) == 2:
        # Both marks: the last is the decimal one, once, and the other groups thousands: 1.500.000,00; 1,500.50.
        decimal = marks[-1]
        if marks.count(decimal) != 1 or not _thousands(groups[:-1]):
            return None
        return Decimal("".join(groups[:-1]) + "." + groups[-1])
    if len(marks) > 1:
        return Decimal("".join(groups)) if _thousands(groups) else None
    # One mark: three digits after it group thousands ("2.000", "1.500 rb"), except before juta, where nobody
    # means thousands of millions: "1.250 juta" is 1,25 juta. Otherwise it is a decimal mark ("1,5", "2.00").
    if _thousands(groups) and not before_millions:
        return Decimal("".join(groups))
    return Decimal(".".join(groups))


def _thousands(groups: list[str]) -> bool:
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


@dataclass
class _Figure:
    value: Decimal
    scale: Decimal | None  # the first unit (ribu, juta) read with it; None for a bare figure like "58"
    start: int  # atom indices, to find the period words next to it
    end: int
    linked: bool  # joined to the figure before by a range word: "1-2 juta", "1 sampai 2 juta"
    period: Per | None = None


class _Reader:
    """Builds figures from atoms the way Indonesian numbers are said: (units x tens/hundreds) x ribu/juta, summed.

    "dua juta dua ratus lima puluh ribu" is 2 x juta + (2 x ratus + 5 x puluh) x ribu.
    """

    def __init__(self) -> None:
        self.figures: list[_Figure] = []
        self.link_next = False
        self.ambiguous = False
        self.start: int | None = None
        self._reset()

    def _reset(self) -> None:
        self.start = None
        self.total = Decimal(0)  # parts already multiplied by ribu or juta
        self.group = Decimal(0)  # the part below a thousand said so far: "dua ratus lima puluh"
        self.pending: Decimal | None = None  # the last number, which puluh, ratus or a unit may still multiply
        self.fraction: str | None = None  # digits said after "koma"
        self.scale: Decimal | None = None
        self.last_scale: Decimal | None = None
        self.last_word_digit = False  # the pending number was said as a word: "dua"

    def read(self, atoms: list[_Atom]) -> list[_Figure] | None:
        """The figures in the atoms, or None when one is ambiguous."""
        for i, atom in enumerate(atoms):
            if not self._take(i, atom):
                self._close(i - 1)
                if atom.kind == "range":
                    self.link_next = bool(self.figures)
        self._close(len(atoms) - 1)
        # "2 juta 500", "dua juta lima ratus": 2.000.500 as written, 2.500.000 as often said aloud.
        if self.ambiguous:
            return None
        return self.figures

    def _begin(self, i: int) -> None:
        if self.start is None:
            self.start = i

    def _take(self, i: int, atom: _Atom) -> bool:
        """Add the atom to the figure being read; False when it is no part of a figure."""
        kind = atom.kind
        if self.fraction is not None and kind in ("digit", "number") and atom.text.isdigit():
            self.fraction += atom.text
            return True
        if kind in ("number", "digit"):
            if self.pending is not None:
                # Two numbers in a row are two figures: "umur 45 2 juta". Two number words are a range, the
                # spoken "dua tiga juta" for 2-3 juta.
                spoken_range = kind == "digit" and self.last_word_digit and not self.group and not self.total
                self._close(i - 1)
                self.link_next = spoken_range
            self.last_word_digit = kind == "digit"
            self._begin(i)
            self.pending = atom.value
            self.fraction = None
            return True
        if kind == "se_number":
            if self.pending is not None:
                self._close(i - 1)
            self._begin(i)
            self.group += atom.value
            return True
        if kind == "times" and self.pending is not None:
            self.group += self.pending + atom.value if atom.text == "belas" else self.pending * atom.value
            self.pending = None
            return True
        if kind == "half" and self.start is not None:
            if self.pending is not None:
                self.pending += Decimal("0.5")  # "satu setengah juta", "2 setengah juta"
            elif not self.group and self.last_scale is not None:
                self.total += self.last_scale / 2  # "sejuta setengah", "2 juta setengah"
            else:
                return False
            return True
        if kind == "half":
            self._begin(i)
            self.pending = Decimal("0.5")  # "setengah juta"
            return True
        if kind == "comma" and (self.pending is not None or self.group):
            self.fraction = ""
            return True
        if kind == "se_scale":
            if self.pending is not None or self.group:
                self._close(i - 1)
            self._begin(i)
            self.pending = Decimal(1)
            return self._take(i, _Atom("scale", atom.value))
        if kind == "scale" and (self.pending is not None or self.group):
            self.total += self._small() * atom.value
            self.group, self.pending, self.fraction = Decimal(0), None, None
            self.scale = self.scale or atom.value
            self.last_scale = atom.value
            return True
        return False

    def _small(self) -> Decimal:
        value = self.group + (self.pending or 0)
        if self.fraction:
            value += Decimal("0." + self.fraction)
        return value

    def _close(self, end: int) -> None:
        if self.start is None:
            return
        rest = self._small()
        if self.last_scale == _MILLION and 0 < rest < 1000 and not self.fraction:
            self.ambiguous = True
        value = self.total + rest
        if value > 0:
            self.figures.append(_Figure(value, self.scale, self.start, end, self.link_next))
        self.link_next = False
        self._reset()


def _incomes(figures: list[_Figure], atoms: list[_Atom]) -> list[_Figure]:
    """The figures that are incomes, with their periods and the unit a range's first figure leaves out."""
    ranges: list[list[_Figure]] = []
    for figure in figures:
        if figure.linked and ranges:
            ranges[-1].append(figure)
        else:
            ranges.append([figure])

    for members in ranges:
        # "1-2 juta": the bare 1 takes the unit of the figure it is paired with.
        scales = [f.scale for f in members if f.scale is not None]
        for f in members:
            if f.scale is None and f.value < 1000 and scales:
                f.value *= scales[-1]
                f.scale = scales[-1]

    _attach_periods(figures, atoms)
    for members in ranges:
        periods = [f.period for f in members if f.period is not None]
        for f in members:
            f.period = f.period or (periods[0] if periods else None)

    # A bare number below a thousand is an age, a count or a house number, not a monthly income.
    kept = [r for r in ([f for f in members if f.scale or f.value >= 1000] for members in ranges) if r]
    # A figure with a unit or period outranks a lone bare one: "tahun 2024 gaji 2 juta" is 2 juta.
    if any(f.scale or f.period for r in kept for f in r):
        kept = [r for r in kept if len(r) > 1 or r[0].scale or r[0].period]
    return [f for r in kept for f in r]


def _attach_periods(figures: list[_Figure], atoms: list[_Atom]) -> None:
    """Give each period word to the figure it belongs to: the one right before it, else the next one."""
    for i, atom in enumerate(atoms):
        if atom.kind != "period":
            continue
        before = [f for f in figures if f.end < i and f.period is None]
        after = [f for f in figures if f.start > i and f.period is None]
        right_before = before and all(a.kind == "link" for a in atoms[before[-1].end + 1 : i])
        if right_before:
            before[-1].period = atom.period
        elif after:
            after[0].period = atom.period
        elif before:
            before[-1].period = atom.period
