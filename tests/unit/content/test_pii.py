"""Personal information detection: each kind with a valid and a failing check, the
boundaries that make a valid number inside a longer code no match, masking, and the
labelled corpus the benchmark measures, on a smaller draw."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.content.pii import (
    PiiHit,
    PiiKind,
    counts,
    find,
    luhn_ok,
    masked,
    valid_bank_card,
    valid_credit_code,
    valid_resident_id,
)
from tests.support import pii as corpus

ID = "11010519491231002X"  # the example of GB 11643
CARD = "6222021234567890128"
CREDIT = "91350100M000100Y43"  # the example of GB 32100


def kinds(text: str) -> list[tuple[PiiKind, str]]:
    return [(h.kind, text[h.start : h.end]) for h in find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"身份证{ID}，", [(PiiKind.RESIDENT_ID, ID)]),
        (f"身份证{ID.lower()}", [(PiiKind.RESIDENT_ID, ID.lower())]),
        ("号码110105194912310021", []),  # check character wrong
        ("号码110105194913310024", []),  # month 13
        (f"卡号{CARD}", [(PiiKind.BANK_CARD, CARD)]),
        ("卡号6222 0212 3456 7890 128", [(PiiKind.BANK_CARD, "6222 0212 3456 7890 128")]),
        ("卡号6222021234567890127", []),  # Luhn fails
        ("卡号1222021234567890124", []),  # no card starts with 1
        (f"代码{CREDIT}", [(PiiKind.CREDIT_CODE, CREDIT)]),
        ("代码91350100M000100Y44", []),
        ("代码91350100M000100Y53", []),  # the organisation code's check fails
        ("手机13812345678", [(PiiKind.MOBILE, "13812345678")]),
        ("手机+86 138 1234 5678", [(PiiKind.MOBILE, "+86 138 1234 5678")]),
        ("手机8613812345678", [(PiiKind.MOBILE, "8613812345678")]),
        ("编号12812345678", []),  # not in the numbering plan
        ("邮箱zhang.san@bank.com.cn。", [(PiiKind.EMAIL, "zhang.san@bank.com.cn")]),
        ("来自10.1.200.7的请求", [(PiiKind.IPV4, "10.1.200.7")]),
        ("来自10.1.256.7", []),
        ("版本1.2.3.4.5", []),
        ("地址2001:db8::8a2e:370:7334", [(PiiKind.IPV6, "2001:db8::8a2e:370:7334")]),
        ("时间12:30:45", []),
        ("护照E12345678", [(PiiKind.PASSPORT, "E12345678")]),
        ("护照EA1234567", [(PiiKind.PASSPORT, "EA1234567")]),
        ("护照G1234567", []),
    ],
)
def test_each_kind_valid_and_invalid(text: str, expected: list[tuple[PiiKind, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [f"1{ID}", f"{ID}5", f"A{ID}", f"9{CARD}", f"{CARD}0", "113812345678", "13812345678a"],
)
def test_a_valid_number_inside_a_longer_code_is_no_match(text: str) -> None:
    assert find(text) == []


def test_an_id_that_also_passes_luhn_is_an_id() -> None:
    rng = random.Random(3)
    both = next(i for i in iter(lambda: corpus.resident_id(rng), "") if valid_bank_card(i))
    assert kinds(f"证件{both}")[0][0] is PiiKind.RESIDENT_ID


def test_masking_keeps_the_kind_and_nothing_of_the_value() -> None:
    text = f"客户{ID}，手机13812345678，卡{CARD}。"
    hits = find(text)
    out = masked(text, hits)
    assert out == "客户[身份证号]，手机[手机号]，卡[银行卡号]。"
    assert counts(hits) == {"bank_card": 1, "mobile": 1, "resident_id": 1}


def test_only_the_kinds_asked_for() -> None:
    assert find(f"{ID} 13812345678", kinds=[PiiKind.MOBILE]) == [PiiHit(PiiKind.MOBILE, 19, 30)]


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_exactly_one_check_character_makes_an_id(body: str) -> None:
    body = "1" + body[1:]
    valid = [c for c in "0123456789X" if valid_resident_id(body + c)]
    assert len(valid) <= 1


@given(st.text(alphabet="0123456789", min_size=15, max_size=18))
def test_exactly_one_last_digit_passes_luhn(body: str) -> None:
    assert sum(luhn_ok(body + d) for d in "0123456789") == 1


@given(st.integers(min_value=0, max_value=10_000))
def test_the_corpus_values_are_valid_and_found(seed: int) -> None:
    rng = random.Random(seed)
    assert valid_resident_id(corpus.resident_id(rng))
    assert valid_bank_card(corpus.bank_card(rng))
    assert valid_credit_code(corpus.credit_code(rng))
    for kind, make in corpus.MAKERS.items():
        value = make(rng)
        assert [(str(k), v) for k, v in kinds(f"值：{value}。")] == [(kind, value)]


def test_corpus_recall_and_false_positives() -> None:
    missed, flagged = [], []
    for sample in corpus.corpus(seed=11, per_kind=300, negatives=3000):
        hits = find(sample.text)
        if sample.kind is None:
            if hits:
                flagged.append(sample.text)
        elif (sample.kind, sample.start, sample.end) not in {
            (str(h.kind), h.start, h.end) for h in hits
        }:
            missed.append(sample.text)
    assert missed == []
    assert len(flagged) <= 30, flagged
