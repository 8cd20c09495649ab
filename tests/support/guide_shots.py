"""The screenshots the security administrator's guides embed, named once for both the
generator (``bench.guide_screenshots``, which refuses to run unless it draws exactly these)
and the test that the guides show no picture it does not draw: a screen renamed or dropped
here fails the test instead of leaving a stale PNG in a guide."""

from __future__ import annotations

from pathlib import Path

from tests.support.paths import REPO

GUIDES = REPO / "ops" / "guides"
IMAGES = GUIDES / "img"
LANGS = ("zh", "en")
# The screens, in the order the generator visits them; each is drawn once per language.
SECADMIN_SCREENS = (
    "login",
    "keywords",
    "keywords-history",
    "keywords-preview",
    "complaints",
    "compliance",
)


def secadmin_image(screen: str, lang: str) -> Path:
    return IMAGES / f"secadmin-{screen}.{lang}.png"


def secadmin_images() -> list[Path]:
    """Every PNG the generator writes for the secadmin's guides."""
    return [secadmin_image(screen, lang) for lang in LANGS for screen in SECADMIN_SCREENS]
