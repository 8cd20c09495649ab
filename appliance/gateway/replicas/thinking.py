"""Which thinking mode a served model has, from the settings or from its names.

vLLM's model card says nothing about reasoning, so the gateway goes by names: the id a
backend lists the model under and the card's ``root`` (the Hugging Face repository or the
weights' directory). An operator's ``model_thinking`` setting wins; otherwise the family
the names belong to decides:

- DeepSeek-V3.1 (and -Terminus), V3.2 and V4 (-Flash, -Pro) take ``thinking`` in their
  chat template: ``template``;
- plain DeepSeek-V3, V2 and the 67B LLM never reason: ``none``;
- R1, its distills and every other model: ``always``, since the appliance starts every
  replica with vLLM's ``deepseek_r1`` reasoning parser (``sizing.launch_profile``), which
  reads each answer as reasoning then content, the CPU demo model's included.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from appliance.settings import ThinkingMode

# Family patterns, tried in order on each lower-cased name.
_FAMILIES: tuple[tuple[re.Pattern[str], ThinkingMode], ...] = (
    (re.compile(r"deepseek[-_.]?v(?:3[-_.]?[12](?!\d)|4)"), ThinkingMode.TEMPLATE),
    (re.compile(r"deepseek[-_.]?r1"), ThinkingMode.ALWAYS),
    (re.compile(r"deepseek[-_.]?(?:v[23]|llm)"), ThinkingMode.NONE),
)


def inferred_mode(names: Iterable[str]) -> ThinkingMode:
    """The mode the first name of a known family implies; ``always`` when none does."""
    for name in names:
        lowered = name.lower()
        for pattern, mode in _FAMILIES:
            if pattern.search(lowered):
                return mode
    return ThinkingMode.ALWAYS
