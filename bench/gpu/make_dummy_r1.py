"""Write a DeepSeek-V3/R1-shape slice for vLLM's ``--load-format dummy``.

Every layer has R1's real sizes (hidden 7,168; MLA with q_lora 1,536, kv_lora 512, rope 64,
nope 128, v_head 128, 128 heads; 256 routed experts + 1 shared, 8 active, expert width
2,048; the first 3 layers dense with width 18,432) and R1's FP8 block quantization
(128 x 128 blocks, dynamic activation scales), but only NUM_LAYERS of the 61 layers, so the
slice fits one H200. The multi-token-prediction layer is left out (vLLM does not run it
unless speculative decoding asks for it). The tokenizer is synthetic and word-level, with
R1's 129,280 ids and its special tokens at their real ids.

Usage: python3 make_dummy_r1.py MODEL_DIR TOKENIZER_DIR NUM_LAYERS
"""

import json
import sys
from pathlib import Path

from make_dummy_model import CHAT_TEMPLATE  # R1's template; this script's own folder
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

VOCAB = 129280
BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
SPECIAL = {
    0: BOS,
    1: EOS,
    2: "<｜▁pad▁｜>",
    128798: "<think>",
    128799: "</think>",
    128803: "<｜User｜>",
    128804: "<｜Assistant｜>",
    129279: "<unk>",
}
PLAIN = (128798, 128799, 128803, 128804)


def config(layers: int) -> dict[str, object]:
    return {
        "architectures": ["DeepseekV3ForCausalLM"],
        "model_type": "deepseek_v3",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 0,
        "eos_token_id": 1,
        "ep_size": 1,
        "first_k_dense_replace": 3,
        "hidden_act": "silu",
        "hidden_size": 7168,
        "initializer_range": 0.02,
        "intermediate_size": 18432,
        "kv_lora_rank": 512,
        "max_position_embeddings": 163840,
        "moe_intermediate_size": 2048,
        "moe_layer_freq": 1,
        "n_group": 8,
        "n_routed_experts": 256,
        "n_shared_experts": 1,
        "norm_topk_prob": True,
        "num_attention_heads": 128,
        "num_experts_per_tok": 8,
        "num_hidden_layers": layers,
        "num_key_value_heads": 128,
        "num_nextn_predict_layers": 0,
        "q_lora_rank": 1536,
        "qk_nope_head_dim": 128,
        "qk_rope_head_dim": 64,
        "quantization_config": {
            "activation_scheme": "dynamic",
            "fmt": "e4m3",
            "quant_method": "fp8",
            "weight_block_size": [128, 128],
        },
        "rms_norm_eps": 1e-06,
        "rope_scaling": {
            "beta_fast": 32,
            "beta_slow": 1,
            "factor": 40,
            "mscale": 1.0,
            "mscale_all_dim": 1.0,
            "original_max_position_embeddings": 4096,
            "type": "yarn",
        },
        "rope_theta": 10000,
        "routed_scaling_factor": 2.5,
        "scoring_func": "sigmoid",
        "tie_word_embeddings": False,
        "topk_group": 4,
        "topk_method": "noaux_tc",
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "v_head_dim": 128,
        "vocab_size": VOCAB,
    }


GENERATION = {"bos_token_id": 0, "eos_token_id": 1, "do_sample": True, "temperature": 0.6,
              "top_p": 0.95}  # fmt: skip


def main(model_dir: Path, tok_dir: Path, layers: int) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    tok_dir.mkdir(parents=True, exist_ok=True)
    vocab = {SPECIAL.get(i, f"w{i}"): i for i in range(VOCAB)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_tokens([AddedToken(SPECIAL[i], special=False, normalized=False) for i in PLAIN])
    tok.add_special_tokens(
        [AddedToken(SPECIAL[i], special=True, normalized=False) for i in (0, 1, 2, 129279)]
    )
    tok.save(str(tok_dir / "tokenizer.json"))
    tok_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": "<unk>",
        "pad_token": SPECIAL[2],
        "clean_up_tokenization_spaces": False,
        "add_bos_token": False,
        "add_eos_token": False,
        "model_max_length": 163840,
        "chat_template": CHAT_TEMPLATE,
    }
    (tok_dir / "tokenizer_config.json").write_text(json.dumps(tok_config, ensure_ascii=False))
    (model_dir / "config.json").write_text(json.dumps(config(layers), indent=1))
    (model_dir / "generation_config.json").write_text(json.dumps(GENERATION, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
