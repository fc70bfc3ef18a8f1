"""Indonesian phone numbers: typed any common way, stored as E.164 (+62...), shown masked in logs."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalise_phone(text: str) -> str | None:
    """+62 E.164 for an Indonesian mobile number (08..., 628..., +62 8..., with spaces or dashes), else None."""
    digits = re.sub(r"[\s\-().]", "", text.strip())
    if not re.fullmatch(r"\+?\d{8,15}", digits):
        return None
    if digits.startswith("62"):
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, "ID")
    except NumberParseException:
        return None
    if number.country_code != 62 or not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Digits said as words, as people type a number out ("nol delapan satu dua ..."); shared with the masking of
# kept messages (bot/services/misses.py).
DIGIT_WORDS = {
    "nol": "0",
    "kosong": "0",
    "satu": "1",
    "dua": "2",
    "tiga": "3",
    "empat": "4",
    "lima": "5",
    "enam": "6",
    "tujuh": "7",
    "delapan": "8",
    "lapan": "8",
    "sembilan": "9",
}
_NUMBER_IN_TEXT = re.compile(r"\+?\d[\d\s\-().,]{6,}\d")


def find_phone(text: str) -> str | None:
    """A mobile number inside a sentence ("nomor sy 0812 3456 7890 pak"), digits said as words included
    ("nol delapan satu dua ..."), as E.164; None when there is none or more than one."""
    words = re.findall(r"[a-z]+|[^a-z]+", text.casefold())
    spelled = "".join(DIGIT_WORDS.get(w, w) if w.isalpha() else w for w in words)
    runs = (run.replace(",", " ") for run in _NUMBER_IN_TEXT.findall(spelled))
    found = {phone for run in runs if (phone := normalise_phone(run))}
    return found.pop() if len(found) == 1 else None


def looks_like_nik(text: str) -> bool:
    """A 16-digit run is almost surely a NIK (KTP number): the bot never asks for one and never keeps it."""
    return re.fullmatch(r"\d{16}", re.sub(r"[\s.\-]", "", text)) is not None


def contains_nik(text: str) -> bool:
    """Sixteen digits anywhere in a message (spaces, dots or dashes between them allowed)."""
    return re.search(r"\d(?:[\s.\-]?\d){15}", text) is not None


def mask_phone(phone: str) -> str:
    """+628******890: enough to tell numbers apart in a log, not enough to call."""
    return phone[:4] + "*" * (len(phone) - 7) + phone[-3:] if len(phone) > 8 else "***"


_DIGIT_RUN = re.compile(r"\+?\d[\d\s\-]{7,}\d")


def mask_numbers(text: str) -> str:
    """Hide anything that could be a phone number or a NIK in free text bound for a log."""
    return _DIGIT_RUN.sub(lambda m: mask_phone(re.sub(r"\D", "", m.group())), text)


def display_phone(e164: str) -> str:
    """+6281234567890 shown as 0812-3456-7890, the way people write their own number."""
    local = "0" + e164.removeprefix("+62")
    return "-".join([local[:4], local[4:8], local[8:]]).rstrip("-")
