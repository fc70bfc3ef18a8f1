"""The contribution calculator, checked against the facts file and the fact sheet's sourced figures."""

from decimal import Decimal

import pytest

from bot.content import load_content
from bot.contributions import compute_contributions
from bot.conversation.income import TypedIncome, read_income
from tests.conftest import welcomed
from tests.transcript import dialog

CONTENT = load_content()


def test_the_minimum_package_is_the_fact_sheets_sourced_rp16800_and_rp36800_with_jht():
    lowest = compute_contributions(CONTENT, 1_000_000)

    assert (lowest.jkk, lowest.jkm, lowest.mandatory) == (10_000, 6_800, 16_800)
    assert (lowest.jht, lowest.with_jht) == (20_000, 36_800)


@pytest.mark.parametrize("income", [1_000_000, 1_500_000, 2_000_000, 3_000_000, 7_250_000])
def test_rates_follow_the_facts_file(income):
    c = compute_contributions(CONTENT, income)

    assert c.jkk == Decimal(income) * CONTENT.fact("jkk_rate")
    assert c.jkm == CONTENT.fact("jkm_monthly")
    assert c.jht == Decimal(income) * CONTENT.fact("jht_rate")


def test_an_income_below_the_lowest_declared_income_is_counted_at_the_lowest():
    assert compute_contributions(CONTENT, 500_000).mandatory == 16_800


@pytest.mark.parametrize(
    ("typed", "rupiah"),
    [
        ("2000000", 2_000_000),
        ("2.000.000", 2_000_000),
        ("2,000,000", 2_000_000),
        ("Rp 2.500.000", 2_500_000),
        ("rp2500000", 2_500_000),
        ("2,5 juta", 2_500_000),
        ("2.5jt", 2_500_000),
        ("3 juta per bulan", 3_000_000),
        ("750rb", 750_000),
        ("750 ribu", 750_000),
        ("1500k", 1_500_000),
    ],
)
def test_incomes_are_read_the_way_people_type_them(typed, rupiah):
    assert read_income(typed, 30).monthly == rupiah


# "0²" and "½": digits to str.isdigit() that are no figure (found by tests/test_fuzz.py).
@pytest.mark.parametrize("typed", ["2.00", "1,2,3 juta", "", "2 juta 500", "-2000000", "0²", "½ juta"])
def test_unreadable_incomes_are_none(typed):
    assert read_income(typed, 30) is None


@pytest.mark.parametrize(
    ("typed", "monthly", "per"),
    [
        ("gaji 24jt/thn", 2_000_000, "year"),
        ("2 million a month", 2_000_000, "month"),
        ("100k per day", 3_000_000, "day"),
    ],
)
def test_yearly_and_english_figures_are_turned_into_monthly_ones(typed, monthly, per):
    income = read_income(typed, 30)
    assert (income.monthly, income.per) == (monthly, per)


def test_a_figure_with_thirty_digits_is_no_income_and_no_crash():
    assert read_income("1" * 30, 30) is None
    assert read_income("1" * 23 + " juta", 30) is None


@pytest.mark.parametrize(
    ("typed", "monthly"),
    [
        ("2000000", 2_000_000),
        ("2.000.000", 2_000_000),
        ("2,000,000", 2_000_000),
        ("1,5 juta", 1_500_000),
        ("1.5 juta", 1_500_000),
        ("1,5jt", 1_500_000),
        ("2jt", 2_000_000),
        ("2 jt", 2_000_000),
        ("2 jt/bln", 2_000_000),
        ("2jt per bulan", 2_000_000),
        ("Rp 750 ribu", 750_000),
        ("rp750rb", 750_000),
        ("800rb", 800_000),
        ("800 rb", 800_000),
        ("800k", 800_000),
        ("1500k", 1_500_000),
        ("dua juta", 2_000_000),
        ("sejuta", 1_000_000),
        ("sejuta setengah", 1_500_000),
        ("satu setengah juta", 1_500_000),
        ("dua setengah juta", 2_500_000),
        ("2 setengah juta", 2_500_000),
        ("satu koma lima juta", 1_500_000),
        ("tiga juta lima ratus ribu", 3_500_000),
        ("dua juta lima ratus", 2_500_000),  # as said aloud: "ribu" is left out
        ("duo juto", 2_000_000),
        ("sajuta", 1_000_000),
        ("satujutaduaratus", 1_200_000),
        ("lima ratus ribu", 500_000),
        ("tujuh ratus lima puluh ribu", 750_000),
        ("dua juta dua ratus lima puluh ribu", 2_250_000),
        ("2 juta lebih", 2_000_000),
        ("kurang lebih 3 juta", 3_000_000),
        ("sekitar 2,5jt", 2_500_000),
        ("penghasilan sy 1.8 jt sebulan", 1_800_000),
        ("Rp. 1.750.000,-", 1_750_000),
        ("1.500.000,00", 1_500_000),
        ("2 jta", 2_000_000),
        ("1 jeti", 1_000_000),
        ("750 rebu", 750_000),
        ("setengah juta", 500_000),
        ("seribu", 1_000),
        ("1.500 rb", 1_500_000),
        ("GAJI SAYA 2 JUTA SEBULAN", 2_000_000),
        ("2 juta, wa 081234567890", 2_000_000),
        ("umur 45, gaji 2 juta", 2_000_000),
        ("tahun 2024 gaji 2 juta", 2_000_000),
        # Ranges and alternatives: the midpoint.
        ("1-2 juta", 1_500_000),
        ("1 sampai 2 juta", 1_500_000),
        ("1 s/d 2 jt", 1_500_000),
        ("kadang 1 juta kadang 2 juta", 1_500_000),
        ("dua tiga juta", 2_500_000),
        ("500rb-1jt", 750_000),
    ],
)
def test_monthly_incomes_are_read_the_way_workers_type_them(typed, monthly):
    assert read_income(typed, 30) == TypedIncome(monthly=Decimal(monthly), per="month", amount=Decimal(monthly))


@pytest.mark.parametrize(
    ("typed", "per", "amount", "monthly"),
    [
        ("gaji sehari 100rb", "day", 100_000, 2_600_000),
        ("100rb/hari", "day", 100_000, 2_600_000),
        ("seratus ribu sehari", "day", 100_000, 2_600_000),
        ("perhari 80 ribu", "day", 80_000, 2_080_000),
        ("80rb sehari", "day", 80_000, 2_080_000),
        ("100.000 PER HARI", "day", 100_000, 2_600_000),
        ("100-150rb per hari", "day", 125_000, 3_250_000),
        ("seminggu 500rb", "week", 500_000, 2_000_000),
        ("500rb per minggu", "week", 500_000, 2_000_000),
        # Different periods: the midpoint of the monthly figures.
        ("sehari 100rb, sebulan 3 juta", "month", 2_800_000, 2_800_000),
    ],
)
def test_a_day_or_week_income_is_counted_per_month_and_keeps_what_was_typed(typed, per, amount, monthly):
    assert read_income(typed, 26) == TypedIncome(monthly=Decimal(monthly), per=per, amount=Decimal(amount))


def test_weeks_per_month_can_be_given():
    assert read_income("seminggu 500rb", 26, weeks_per_month=5).monthly == 2_500_000


@pytest.mark.parametrize(
    "typed",
    [
        "gak tentu",
        "ga tau",
        "berapa iurannya?",
        "tergantung musim",
        "081234567890",
        "0812-3456-7890",
        "+62 812 3456 7890",
        "6281234567890",
        "3201234567890001",
        "58",
        "3",
        "seratus",
        "umur 45",
        "2.00",
        "1,2,3 juta",
        "2 juta 500",
        "-2000000",
        "",
    ],
)
def test_text_without_an_income_is_none(typed):
    assert read_income(typed, 30) is None


async def test_picking_an_example_income_shows_monthly_and_advance_totals(chat):
    await welcomed(chat)

    await dialog(chat).play("""
        > [Hitung iuran]
        < ... [Rp2.000.000] ...
        > [Rp2.000.000]
        < JKK 1%: Rp20.000
        < JKM: Rp6.800
        < = Rp26.800 per bulan
        < +Rp40.000
        < = Rp66.800 per bulan
        < 3 bulan: Rp80.400 (dengan JHT Rp200.400)
        < 6 bulan: Rp160.800
        < 12 bulan: Rp321.600
    """)


async def test_the_result_says_which_figures_are_rules_and_which_are_examples(chat):
    await welcomed(chat)

    replies = await dialog(chat).play("""
        > [Hitung iuran]
        > [Rp1.000.000]
        < Rp16.800
        < Aturan:
        < Contoh:
    """)

    text = replies[0].text
    assert "20.700.000" not in text and "Rp207.000" not in text, "the bracket table is UNCONFIRMED"


async def test_a_typed_income_recalculates_and_a_low_one_is_explained(chat):
    await welcomed(chat)

    await dialog(chat).play("""
        > hitung iuran
        > 3,5 juta
        < Rp3.500.000 per bulan
        < = Rp41.800 per bulan
        > 800rb
        < terendah yang bisa dilaporkan adalah Rp1.000.000
        < = Rp16.800 per bulan
    """)


@pytest.mark.parametrize(
    ("typed", "answer"), [("banyak", "Belum terbaca"), ("5000", "salah ketik"), ("900000000000", "salah ketik")]
)
async def test_bad_incomes_are_asked_again(chat, typed, answer):
    await welcomed(chat)

    await dialog(chat).play(f"""
        > [Hitung iuran]
        > {typed}
        < {answer}
        < ... [Rp2.000.000] ...
    """)


async def test_opening_the_calculator_is_remembered_once_for_the_dashboards_funnel(chat, db, clock):
    await welcomed(chat)
    assert db("select asked_cost_at from contacts")[0][0] is None

    await chat.tap("Hitung iuran")
    first = db("select asked_cost_at from contacts")[0][0]
    clock.advance(minutes=5)
    await chat.say("brp iurannya")  # the cost asked in words, later: the first time stays

    assert first is not None and db("select asked_cost_at from contacts")[0][0] == first
