"""The security administrator's guides and their screenshots stay in step.

Every picture under ops/guides/img/ and every one a guide shows is one that
``bench.guide_screenshots`` draws (its list is ``tests.support.guide_shots``), so a screen
renamed or dropped there cannot leave a stale picture behind; each exists as the generator
writes it (a 1280x800 PNG) and all of them stay small. The Chinese guide is the main one and
the English one must follow it: the same sections (the ``<a id>`` anchors, in order), and in
each section the same screens and the same runbooks linked.
"""

from __future__ import annotations

import re

from PIL import Image

from tests.support.guide_shots import (
    GUIDES,
    IMAGES,
    LANGS,
    SECADMIN_SCREENS,
    secadmin_image,
    secadmin_images,
)

GUIDE = {lang: GUIDES / f"secadmin.{lang}.md" for lang in LANGS}
ANCHOR = re.compile(r'^<a id="([a-z-]+)"></a>$', re.MULTILINE)
PICTURE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")
LINK = re.compile(r"\]\(([^)#]+)(?:#[^)]*)?\)")
SCREEN = re.compile(r"img/secadmin-([a-z-]+)\.([a-z]+)\.png")
# The whole set: the repository carries every regenerated copy, so it must stay small.
MAX_TOTAL_BYTES = 1_000_000


def _sections(lang: str) -> dict[str, str]:
    """Each anchored section's text, by anchor, in the guide's order."""
    text = GUIDE[lang].read_text(encoding="utf-8")
    marks = list(ANCHOR.finditer(text))
    return {
        mark.group(1): text[mark.end() : marks[i + 1].start() if i + 1 < len(marks) else None]
        for i, mark in enumerate(marks)
    }


def _pictures(text: str) -> list[str]:
    return PICTURE.findall(text)


def test_every_drawn_screenshot_exists_as_the_generator_writes_it() -> None:
    total = 0
    for path in secadmin_images():
        assert path.is_file(), f"{path} is missing: run .venv/bin/python -m bench.guide_screenshots"
        with Image.open(path) as image:
            assert (image.format, image.size) == ("PNG", (1280, 800)), path
        total += path.stat().st_size
    assert total < MAX_TOTAL_BYTES, f"the guides' screenshots take {total} bytes"


def test_no_picture_in_the_folder_is_left_over_from_a_screen_no_longer_drawn() -> None:
    drawn = set(secadmin_images())
    assert drawn
    stale = sorted(p.name for p in IMAGES.iterdir() if p not in drawn)
    assert not stale, f"not drawn by bench.guide_screenshots: {stale}"


def test_every_picture_a_guide_shows_is_drawn_in_its_language() -> None:
    drawn = set(secadmin_images())
    for path in GUIDES.glob("*.md"):
        for target in _pictures(path.read_text(encoding="utf-8")):
            resolved = (path.parent / target).resolve()
            if resolved.is_relative_to(IMAGES.resolve()):
                assert resolved in drawn, f"{path.name} shows {target}, which nothing draws"
    for lang in LANGS:
        shown = [SCREEN.search(t) for t in _pictures(GUIDE[lang].read_text(encoding="utf-8"))]
        assert all(s is not None and s.group(2) == lang for s in shown), (lang, shown)
        screens = [s.group(1) for s in shown if s is not None]
        assert sorted(screens) == sorted(SECADMIN_SCREENS), (lang, screens)
        assert all(secadmin_image(s, lang).is_file() for s in screens)


def test_both_guides_have_the_same_sections_with_the_same_screens_and_runbooks() -> None:
    zh, en = _sections("zh"), _sections("en")
    assert list(zh) == list(en)
    assert {"sign-in", "role", "keywords", "pii", "grades", "complaints"} <= set(zh)
    assert {"assessment", "compliance", "audit-trail"} <= set(zh)
    for anchor in zh:
        zh_screens = [SCREEN.findall(t)[0][0] for t in _pictures(zh[anchor])]
        en_screens = [SCREEN.findall(t)[0][0] for t in _pictures(en[anchor])]
        assert zh_screens == en_screens, anchor
        runbooks = {
            lang: _runbooks(text) for lang, text in (("zh", zh[anchor]), ("en", en[anchor]))
        }
        assert runbooks["zh"] == runbooks["en"], anchor


def _runbooks(text: str) -> list[str]:
    return sorted({t for t in LINK.findall(text) if t.startswith("../runbooks/")})


def test_every_file_the_guides_link_to_exists() -> None:
    for lang in LANGS:
        for anchor, text in _sections(lang).items():
            for target in LINK.findall(text):
                if target.startswith(("http://", "https://")):
                    continue
                assert (GUIDES / target).is_file(), f"{lang} #{anchor} links to {target}"
    own = {f"#{a}" for a in _sections("zh")}
    for lang in LANGS:
        for local in re.findall(r"\]\((#[^)]+)\)", GUIDE[lang].read_text(encoding="utf-8")):
            assert local in own, f"secadmin.{lang}.md links to {local}, no such section"


def test_both_guides_link_the_runbook_of_each_duty() -> None:
    wanted = {
        "../runbooks/keyword-library.md",
        "../runbooks/personal-information.md",
        "../runbooks/data-grades.md",
        "../runbooks/complaints.md",
        "../runbooks/assessment.md",
        "../runbooks/audit-retention.md",
        "../runbooks/compliance-export.md",
    }
    for lang in LANGS:
        linked = set(LINK.findall(GUIDE[lang].read_text(encoding="utf-8")))
        assert wanted <= linked, (lang, sorted(wanted - linked))
