"""A labelled corpus of personal information and of numbers that are not: deterministic, so
a test or the benchmark (``bench.perf.pii``) that fails can be rerun on the same input.

Each positive sample is one value of one kind, valid by its standard, set in Chinese text
with a varied neighbour (a Chinese character, punctuation, a space, the start or end).
The negatives are what a detector must leave alone: digit strings of the same lengths as
the numbered kinds (11, 16-19 and 18) that fail every check, near misses (a valid value with
one character changed), a valid ID inside a longer digit run, amounts, dates, times,
version numbers and references. The checks here are written out again, independently of
:mod:`appliance.content.pii`, so the corpus does not take the code under test's word for
what is valid: a near miss that happens to be valid as another kind (an 18-digit string
that fails its ID check but passes Luhn with a card prefix is a card number, as far as
anyone can tell) is drawn again.
"""

from __future__ import annotations

import datetime
import random
import string
from dataclasses import dataclass

FILLER = "客户来电咨询贷款利率与还款计划请核对信息后回复经办人已登记备注说明如下"
NEIGHBOURS = ("", " ", "，", "：", "。", "号", "(", "\n")
REGIONS = ("110105", "310115", "440305", "510107", "620102", "420106", "650102", "330106")
CREDIT = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CARD_PREFIXES = ("622202", "621700", "622848", "436742", "524094", "356833", "955880")
KINDS = (
    "resident_id",
    "mobile",
    "bank_card",
    "credit_code",
    "email",
    "ipv4",
    "ipv6",
    "passport",
)


@dataclass(frozen=True, slots=True)
class Sample:
    """A text and, for a positive, the kind and where the value is (``text[start:end]``)."""

    text: str
    kind: str | None
    start: int = 0
    end: int = 0


def id_check(first17: str) -> str:
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * 2 if i % 2 else int(d)
        total += n // 10 + n % 10
    return total % 10 == 0


def credit_check(first17: str) -> str:
    weights = [3**i % 31 for i in range(17)]
    total = sum(CREDIT.index(c) * w for c, w in zip(first17, weights, strict=True))
    return CREDIT[-total % 31]


def org_check(first8: str) -> str:
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    remainder = 11 - sum(int(c, 36) * w for c, w in zip(first8, weights, strict=True)) % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


def _id_valid(s: str) -> bool:
    if len(s) != 18 or not s[:17].isdigit() or s[0] == "0":
        return False
    try:
        datetime.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    return 1900 <= int(s[6:10]) <= 2099 and id_check(s[:17]) == s[17]


def valid_as_any(s: str) -> bool:
    """Whether a string of digits (and ID or code letters) is valid as any numbered kind."""
    plain = s.replace(" ", "")
    if _id_valid(plain):
        return True
    code = len(plain) == 18 and all(c in CREDIT for c in plain) and plain[0] in "123456789ANY"
    code = code and plain[1] in "123456789" and plain[2:8].isdigit()
    if code and org_check(plain[8:16]) == plain[16] and credit_check(plain[:17]) == plain[17]:
        return True
    card = plain.isdigit() and 16 <= len(plain) <= 19 and plain[0] in "34569"
    if card and luhn_valid(plain):
        return True
    return plain.isdigit() and len(plain) == 11 and plain[0] == "1" and plain[1] in "3456789"


def resident_id(rng: random.Random) -> str:
    born = datetime.date(1940, 1, 1) + datetime.timedelta(days=rng.randrange(30_000))
    body = rng.choice(REGIONS) + born.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
    return body + id_check(body)


def bank_card(rng: random.Random) -> str:
    """A card number that is not also a valid resident ID (no detector could tell which)."""
    while True:
        length = rng.randint(16, 19)
        body = rng.choice(CARD_PREFIXES)
        body += "".join(rng.choice(string.digits) for _ in range(length - len(body) - 1))
        card = next(body + d for d in string.digits if luhn_valid(body + d))
        if not _id_valid(card):
            return card


def credit_code(rng: random.Random) -> str:
    body = rng.choice("159Y") + rng.choice("123") + rng.choice(REGIONS)
    organisation = "".join(rng.choice(CREDIT) for _ in range(8))
    body += organisation + org_check(organisation)
    return body + credit_check(body)


def mobile(rng: random.Random) -> str:
    number = "1" + rng.choice("3456789") + "".join(rng.choice(string.digits) for _ in range(9))
    style = rng.randrange(4)
    if style == 1:
        return "+86" + number
    if style == 2:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    return number


def email(rng: random.Random) -> str:
    user = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10)))
    suffix = rng.choice(["", ".zhang", "_01", "2026"])
    return f"{user}{suffix}@{rng.choice(['bank.cn', 'qq.com', 'mail.example.com.cn'])}"


def ipv4(rng: random.Random) -> str:
    return ".".join(str(rng.randrange(256)) for _ in range(4))


def ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randrange(65536):x}" for _ in range(8)]
    if rng.random() < 0.5:
        return "2001:db8::" + ":".join(groups[:3])
    return ":".join(groups)


def passport(rng: random.Random) -> str:
    digits = "".join(rng.choice(string.digits) for _ in range(8))
    if rng.random() < 0.3:
        return "E" + rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + digits[:7]
    return rng.choice("EG") + digits


MAKERS = {
    "resident_id": resident_id,
    "mobile": mobile,
    "bank_card": bank_card,
    "credit_code": credit_code,
    "email": email,
    "ipv4": ipv4,
    "ipv6": ipv6,
    "passport": passport,
}


def _filler(rng: random.Random) -> str:
    start = rng.randrange(len(FILLER) - 8)
    return FILLER[start : start + rng.randint(0, 8)]


def _place(rng: random.Random, value: str, kind: str | None) -> Sample:
    before = _filler(rng) + rng.choice(NEIGHBOURS)
    after = rng.choice(NEIGHBOURS) + _filler(rng)
    return Sample(before + value + after, kind, len(before), len(before) + len(value))


def _digits(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(length))


def _not_pii(rng: random.Random, make: object) -> str:
    """A string from ``make`` drawn again until it is valid as no kind."""
    while True:
        value = make() if callable(make) else str(make)
        if not valid_as_any(value):
            return str(value)


def _near_miss(rng: random.Random) -> str:
    maker = rng.choice((resident_id, bank_card, credit_code))
    value = maker(rng)
    i = rng.randrange(len(value))
    pool = CREDIT if maker is credit_code else string.digits
    return value[:i] + rng.choice([c for c in pool if c != value[i]]) + value[i + 1 :]


def negative(rng: random.Random) -> str:
    """One string that is no personal information, of a shape chosen at random."""
    shape = rng.randrange(8)
    if shape == 0:
        return _not_pii(rng, lambda: _digits(rng, rng.choice((11, 16, 17, 18, 19))))
    if shape == 1:
        return _not_pii(rng, lambda: _near_miss(rng))
    if shape == 2:
        return _digits(rng, rng.randint(1, 3)) + resident_id(rng) + _digits(rng, 1)
    if shape == 3:
        return f"{rng.randrange(1, 10**6):,}.{rng.randrange(100):02d}元"
    if shape == 4:
        day = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        return f"{day} {rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
    if shape == 5:
        return f"v{rng.randrange(10)}.{rng.randrange(20)}.{rng.randrange(50)}"
    if shape == 6:
        return rng.choice("EGA") + _digits(rng, rng.choice((6, 7, 9)))
    return "订单" + _not_pii(rng, lambda: "2" + _digits(rng, rng.choice((9, 11, 13, 14, 15))))


def corpus(seed: int, per_kind: int, negatives: int) -> list[Sample]:
    """``per_kind`` positives of every kind and ``negatives`` negatives, shuffled."""
    rng = random.Random(seed)
    samples = [_place(rng, MAKERS[kind](rng), kind) for kind in KINDS for _ in range(per_kind)]
    samples += [_place(rng, negative(rng), None) for _ in range(negatives)]
    rng.shuffle(samples)
    return samples
