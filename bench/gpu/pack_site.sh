#!/bin/bash
# pack_site.sh DEST: vLLM 0.26.0's packages that the GPU machine lacks (wheels_included.txt),
# unpacked for its Python 3.12 and packed as DEST/site.tar.xz.part-aa, -ab, ... (each at most
# 50 MiB, so that one and the checkout fit a call's 64 MiB carry) for install.sh to
# reassemble into /tmp/site.
#
# Run here, from the checkout: pip only downloads and unpacks (--target with a foreign
# --python-version never runs anything), so this machine's own Python does not matter. The
# installed tree is packed rather than the wheels: it compresses far better. Trimmed: the
# console scripts (bin/), FlashAttention 2's library (Hopper runs FlashAttention 3), the
# MoE kernels' library (dense models never load it; moe_run.sh carries it apart), the Rust
# front end (vllm-rs) and mistral_common's tekken tokenizer data, none of which the dense
# benchmark loads: about 95 MiB, two parts.
set -euo pipefail
DEST=$(realpath -m "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PLATFORMS=()
for p in manylinux_2_31 manylinux_2_28 manylinux_2_27 manylinux_2_26 manylinux_2_24 \
  manylinux_2_17 manylinux2014 manylinux_2_5 manylinux1; do  # most preferred first
  PLATFORMS+=(--platform "${p}_x86_64")
done
PIN=(--python-version 3.12 --implementation cp --only-binary=:all: "${PLATFORMS[@]}")
# wheel file name -> name==version (the name's underscores are as pip accepts them)
sed -E 's/^([^-]+)-([^-]+)-.*/\1==\2/' "$HERE/wheels_included.txt" > "$WORK/reqs.txt"
python3 -m pip download -q --no-deps "${PIN[@]}" -d "$WORK/whl" -r "$WORK/reqs.txt"
missing=$(comm -23 <(sort "$HERE/wheels_included.txt") <(ls "$WORK/whl" | sort))
if [ -n "$missing" ]; then
  echo "downloaded wheels differ from wheels_included.txt: $missing" >&2
  exit 1
fi
python3 -m pip install -q --no-deps --no-index --no-compile --target "$WORK/site" "${PIN[@]}" \
  "$WORK"/whl/*.whl
rm -rf "$WORK/site/bin" "$WORK/site/vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so" \
  "$WORK/site/vllm/_moe_C_stable_libtorch.abi3.so" "$WORK/site/vllm/vllm-rs" \
  "$WORK"/site/mistral_common/data/tekken_*.json
find "$WORK/site" -name __pycache__ -prune -exec rm -rf {} +
mkdir -p "$DEST"
rm -f "$DEST"/site.tar.xz.part-*
tar -cf - -C "$WORK/site" . | xz -9 -T2 | split -b 50M - "$DEST/site.tar.xz.part-"
du -sh "$WORK/site"
ls -la "$DEST"
