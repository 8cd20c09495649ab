"""Personal information in a text: where it is, of which kind, and the text with it masked.

What a bank's users paste into a prompt or a document is full of numbers; most are amounts,
dates, account references. A number is reported only when it has the form of its kind
*and* passes the kind's own check, so a digit string that fails the check is never flagged:

- ``resident_id`` 身份证号: 18 characters, GB 11643: a region whose first digit is 1-9, a
  real birth date (1900-2099), a sequence number, and the ISO 7064 MOD 11-2 check character
  (``0-9`` or ``X``);
- ``mobile`` 手机号: a mainland number, 11 digits ``1[3-9]`` then 9 (also written
  ``3-4-4`` with spaces or hyphens), with an optional ``+86``, ``0086`` or ``86`` prefix.
  It has no check digit: any such run is taken for one;
- ``bank_card`` 银行卡号: 16-19 digits (also in groups of four) whose first digit is 3-6 or 9
  (UnionPay 62, Visa, Mastercard, JCB, the older 9-prefixed domestic debit cards) and that
  pass the Luhn check;
- ``credit_code`` 统一社会信用代码: 18 characters, GB 32100: registration authority
  (``1-9``, ``A``, ``N``, ``Y``), category digit, 6-digit region, 9-character organisation
  code (GB 11714: 8 characters and their MOD 11 check, ``0-9`` or ``X``) and the MOD 31
  check character, over the 31 characters the standard uses;
- ``email``; ``ipv4`` (four octets 0-255) and ``ipv6`` (what :mod:`ipaddress` accepts,
  written with ``::`` or all eight groups);
- ``passport`` 护照号: the ordinary passports of the PRC, ``E`` or ``G`` then 8 digits, and
  ``E``, a letter other than ``I`` and ``O``, then 7 digits (issued since the ``E`` numbers
  ran out). Diplomatic and service passports, and the Hong Kong and Macau permits, are not
  recognised. A passport number has no check character.

A match must stand on its own: a letter or digit right before or after it means it is part
of a longer code (a valid ID inside a 20-digit run is no ID). Where two kinds claim the same
characters the more specific wins, in the order of :data:`PRIORITY`: a resident ID that
also passes Luhn is an ID; 18 digits valid both as a card and as a credit code (one in 31
cards of that length) are taken for the card, the personal one of the two.

Masking replaces each match with its kind in brackets (``[身份证号]``), not with a partial
mask such as ``110***********1234``: the visible digits of a resident ID give the region and
birth date, and four digits of a card narrow it down, which is itself personal information;
the model needs to know only that a number of that kind was there. Pure: no I/O, no settings.
"""

from __future__ import annotations

import bisect
import datetime
import enum
import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass


class PiiKind(enum.StrEnum):
    RESIDENT_ID = "resident_id"
    MOBILE = "mobile"
    BANK_CARD = "bank_card"
    CREDIT_CODE = "credit_code"
    EMAIL = "email"
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    PASSPORT = "passport"

    @property
    def label(self) -> str:
        """The mask a match is replaced with: the kind, in the users' language."""
        return _LABELS[self]


_LABELS = {
    PiiKind.RESIDENT_ID: "[身份证号]",
    PiiKind.MOBILE: "[手机号]",
    PiiKind.BANK_CARD: "[银行卡号]",
    PiiKind.CREDIT_CODE: "[统一社会信用代码]",
    PiiKind.EMAIL: "[电子邮箱]",
    PiiKind.IPV4: "[IP地址]",
    PiiKind.IPV6: "[IP地址]",
    PiiKind.PASSPORT: "[护照号]",
}

# The kinds that carry a check character or digit (the benchmark's recall target).
CHECKSUMMED = frozenset({PiiKind.RESIDENT_ID, PiiKind.BANK_CARD, PiiKind.CREDIT_CODE})


@dataclass(frozen=True, slots=True)
class PiiHit:
    """One match: its kind and where it is in the text (``text[start:end]``)."""

    kind: PiiKind
    start: int
    end: int


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_CHARS)}
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def resident_id_check(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits (ISO 7064 MOD 11-2)."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def valid_resident_id(code: str) -> bool:
    """18 characters with a real birth date and the right check character."""
    if len(code) != 18 or not code[:17].isdigit() or code[0] == "0":
        return False
    try:
        born = datetime.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return False
    return 1900 <= born.year <= 2099 and resident_id_check(code[:17]) == code[17].upper()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def valid_bank_card(digits: str) -> bool:
    return 16 <= len(digits) <= 19 and digits.isdigit() and digits[0] in "34569" and luhn_ok(digits)


def credit_code_check(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters (MOD 31)."""
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def org_code_check(first8: str) -> str:
    """The GB 11714 check character of an organisation code's first 8 characters."""
    total = sum(int(c, 36) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    return "0123456789X0"[11 - total % 11]


def valid_credit_code(code: str) -> bool:
    return (
        len(code) == 18
        and all(c in _CREDIT_VALUE for c in code)
        and org_code_check(code[8:16]) == code[16]
        and credit_code_check(code[:17]) == code[17]
    )


def _valid_ipv6(text: str) -> bool:
    if "::" not in text and text.count(":") != 7:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


_B = r"(?<![0-9A-Za-z])"  # nothing alphanumeric before
_E = r"(?![0-9A-Za-z])"  # nor after
_C = "[0-9A-HJ-NPQRTUWXY]"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: PiiKind
    pattern: re.Pattern[str]
    valid: Callable[[str], bool]


def _digits(check: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda text: check(text.replace(" ", "").replace("-", ""))


def _always(_: str) -> bool:
    return True


# In priority order: where two matches overlap, the earlier rule's is kept.
PRIORITY: tuple[_Rule, ...] = (
    _Rule(
        PiiKind.EMAIL,
        re.compile(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
        ),
        _always,
    ),
    _Rule(PiiKind.RESIDENT_ID, re.compile(_B + r"[1-9]\d{16}[0-9Xx]" + _E), valid_resident_id),
    _Rule(
        PiiKind.BANK_CARD,
        re.compile(_B + r"(?:\d{16,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?)" + _E),
        _digits(valid_bank_card),
    ),
    _Rule(
        PiiKind.CREDIT_CODE,
        re.compile(_B + r"[1-9ANY][1-9]\d{6}" + _C + "{10}" + _E),
        valid_credit_code,
    ),
    _Rule(
        PiiKind.PASSPORT,
        re.compile(_B + r"(?:[EG]\d{8}|E[A-HJ-NP-Z]\d{7})" + _E),
        _always,
    ),
    _Rule(
        PiiKind.MOBILE,
        re.compile(
            r"(?<![0-9A-Za-z+])(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:\d{8}|([ -])\d{4}\1\d{4})" + _E
        ),
        _always,
    ),
    _Rule(
        PiiKind.IPV6,
        re.compile(r"(?<![0-9A-Za-z:])[0-9A-Fa-f:]{2,39}(?![0-9A-Za-z:])"),
        _valid_ipv6,
    ),
    _Rule(
        PiiKind.IPV4,
        re.compile(r"(?<![0-9A-Za-z.])" + _OCTET + r"(?:\." + _OCTET + r"){3}(?![0-9A-Za-z]|\.\d)"),
        _always,
    ),
)


def find(text: str, kinds: Iterable[PiiKind] | None = None) -> list[PiiHit]:
    """Every match in ``text``, by position, none overlapping; ``kinds``: only those."""
    wanted = None if kinds is None else frozenset(kinds)
    taken: list[PiiHit] = []  # by position; none overlap, so only the neighbours can
    for rule in PRIORITY:
        if wanted is not None and rule.kind not in wanted:
            continue
        for m in rule.pattern.finditer(text):
            start, end = m.span()
            at = bisect.bisect_left(taken, start, key=lambda h: h.start)
            if at > 0 and taken[at - 1].end > start:
                continue
            if at < len(taken) and taken[at].start < end:
                continue
            if rule.valid(m.group()):
                taken.insert(at, PiiHit(rule.kind, start, end))
    return taken


def masked(text: str, hits: list[PiiHit]) -> str:
    """``text`` with every hit replaced by its kind's label."""
    out: list[str] = []
    at = 0
    for hit in sorted(hits, key=lambda h: h.start):
        out.append(text[at : hit.start])
        out.append(hit.kind.label)
        at = hit.end
    out.append(text[at:])
    return "".join(out)


def counts(hits: Iterable[PiiHit]) -> dict[str, int]:
    """How many of each kind: what an audit row records (never the values)."""
    return dict(sorted(Counter(str(h.kind) for h in hits).items()))


def scrub(text: str) -> tuple[str, dict[str, int]]:
    """``text`` masked, and how many of each kind it held: what a knowledge base's ingestion
    is given (``appliance.rag.personal.Scrub``)."""
    hits = find(text)
    return (masked(text, hits), counts(hits)) if hits else (text, {})
