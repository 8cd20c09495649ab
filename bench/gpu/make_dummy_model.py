"""Write the R1-Distill-Qwen-7B shape for vLLM's ``--load-format dummy``.

No weights reach the GPU machine, so the model folder holds only the real model's
``config.json`` and ``generation_config.json`` (its sampling defaults, T=0.6, top_p=0.95,
which vLLM applies), and a separate folder holds a synthetic word-level tokenizer covering
all 152,064 ids with R1's special tokens at their real ids (a tokenizer inside the model
folder would be replaced by transformers' Qwen2 tokenizer because of the model type).

Usage: python3 make_dummy_model.py MODEL_DIR TOKENIZER_DIR
"""

import json
import sys
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

VOCAB = 152064
SPECIAL = {
    151643: "<｜end▁of▁sentence｜>",
    151644: "<｜User｜>",
    151645: "<｜Assistant｜>",
    151646: "<｜begin▁of▁sentence｜>",
    151647: "<|EOT|>",
    151648: "<think>",
    151649: "</think>",
    151650: "<unk>",
}
CHAT_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}"
    "{% endif %}{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}<｜User｜> {{ message['content'] }} "
    "{% elif message['role'] == 'assistant' %}<｜Assistant｜> {{ message['content'] }} "
    "<｜end▁of▁sentence｜> {% else %}{{ message['content'] }} {% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<｜Assistant｜> <think>\n{% endif %}"
)
CONFIG = {
    "architectures": ["Qwen2ForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151643,
    "hidden_act": "silu",
    "hidden_size": 3584,
    "initializer_range": 0.02,
    "intermediate_size": 18944,
    "max_position_embeddings": 131072,
    "max_window_layers": 28,
    "model_type": "qwen2",
    "num_attention_heads": 28,
    "num_hidden_layers": 28,
    "num_key_value_heads": 4,
    "rms_norm_eps": 1e-06,
    "rope_theta": 10000,
    "sliding_window": 4096,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": VOCAB,
}
GENERATION = {
    "_from_model_config": True,
    "bos_token_id": 151646,
    "eos_token_id": 151643,
    "do_sample": True,
    "temperature": 0.6,
    "top_p": 0.95,
}


def main(model_dir: Path, tok_dir: Path) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    tok_dir.mkdir(parents=True, exist_ok=True)
    vocab = {SPECIAL.get(i, f"w{i}"): i for i in range(VOCAB)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    plain = (151644, 151645, 151647, 151648, 151649)
    tok.add_tokens([AddedToken(SPECIAL[i], special=False, normalized=False) for i in plain])
    special = (151643, 151646, 151650)
    tok.add_special_tokens(
        [AddedToken(SPECIAL[i], special=True, normalized=False) for i in special]
    )
    tok.save(str(tok_dir / "tokenizer.json"))
    tok_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": SPECIAL[151646],
        "eos_token": SPECIAL[151643],
        "unk_token": "<unk>",
        "pad_token": SPECIAL[151643],
        "clean_up_tokenization_spaces": False,
        "add_bos_token": False,
        "add_eos_token": False,
        "model_max_length": 131072,
        "chat_template": CHAT_TEMPLATE,
    }
    (tok_dir / "tokenizer_config.json").write_text(json.dumps(tok_config, ensure_ascii=False))
    (model_dir / "config.json").write_text(json.dumps(CONFIG, indent=1))
    (model_dir / "generation_config.json").write_text(json.dumps(GENERATION, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
