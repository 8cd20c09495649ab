"""A vLLM logits processor that gives the CPU demo model R1's answer shape: a short
reasoning block, closed by ``</think>``, then the answer.

Loaded into ``var/vllm-venv`` with ``--logits-processors think_budget:ThinkBudget`` (this
directory on ``PYTHONPATH``); it only ever runs with the demo model, never with R1.

SmolLM2 never writes ``</think>`` (it did not exist before ``smollm2_from_gguf.py`` added
it), so after the ``<think>\\n`` that its chat template opens, vLLM's ``deepseek_r1`` parser
would report the whole answer as reasoning and ``content`` would be empty. vLLM's own
thinking budget (the ``thinking_token_budget`` request field) ends reasoning by forcing the
end token, but only per request, and clients of the appliance do not send it. This
processor applies the same rule by default, for requests that open a reasoning block and
set no budget of their own:

- reasoning ends after ``APPLIANCE_DEMO_THINK_BUDGET`` tokens (default 16);
- where the model would stop while still reasoning, it closes the reasoning instead;
- ``<think>`` is never generated (reasoning opens in the prompt only), nor is ``</think>``
  outside an open reasoning block.

Requests that set ``thinking_token_budget`` are left to vLLM's built-in budget.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import torch
from transformers import AutoTokenizer
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates

if TYPE_CHECKING:
    from vllm.config import VllmConfig

START = "<think>"
END = "</think>"
DEFAULT_BUDGET = 16


class ThinkBudget(LogitsProcessor):
    """Force ``</think>`` once a request has reasoned for the budget, or wants to stop."""

    def __init__(self, vllm_config: VllmConfig, device: torch.device, is_pin_memory: bool):
        model_config = vllm_config.model_config
        tokenizer = AutoTokenizer.from_pretrained(model_config.tokenizer)
        self.start_id = int(tokenizer.convert_tokens_to_ids(START))
        self.end_id = int(tokenizer.convert_tokens_to_ids(END))
        config_eos = model_config.hf_config.eos_token_id
        eos = {tokenizer.eos_token_id}
        eos.update(config_eos if isinstance(config_eos, list) else [config_eos])
        self.eos_ids = sorted(int(i) for i in eos if i is not None)
        self.budget = int(os.environ.get("APPLIANCE_DEMO_THINK_BUDGET", DEFAULT_BUDGET))
        # Batch row -> that request's (live, growing) list of generated token ids.
        self.outputs: dict[int, list[int]] = {}

    def is_argmax_invariant(self) -> bool:
        return False

    def _track(
        self, params: SamplingParams, prompt: list[int] | None, output: list[int]
    ) -> list[int] | None:
        """Track requests whose prompt leaves a reasoning block open and that have no
        budget of their own."""
        if params.thinking_token_budget is not None or not prompt or self.start_id not in prompt:
            return None
        last_start = len(prompt) - 1 - prompt[::-1].index(self.start_id)
        if self.end_id in prompt[last_start:]:
            return None
        return output

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self.outputs, batch_update, self._track)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        # Both added tokens share a newline's embedding, so the model could write them where
        # it means a line break. Reasoning only ever opens in the prompt, and closes once.
        reasoning = {row: len(out) for row, out in self.outputs.items() if self.end_id not in out}
        not_reasoning = torch.ones(logits.shape[0], dtype=torch.bool, device=logits.device)
        not_reasoning[list(reasoning)] = False
        logits[:, self.start_id] = float("-inf")
        logits[not_reasoning, self.end_id] = float("-inf")
        for row, generated in reasoning.items():
            if generated >= self.budget:
                logits[row] = float("-inf")
                logits[row, self.end_id] = 0.0
                continue
            # Wanting to stop while reasoning means the reasoning is done.
            stop = torch.logsumexp(logits[row, self.eos_ids], dim=0)
            logits[row, self.end_id] = torch.logaddexp(logits[row, self.end_id], stop)
            logits[row, self.eos_ids] = float("-inf")
        return logits
