#!/bin/bash
# install.sh: reassemble the packed vLLM 0.26.0 site (chunks in /tmp/wheels) into /tmp/site.
# The pack is `pip install --no-deps --target` of the wheels the GPU machine lacks, trimmed
# (see ops/benchmarks/gpu-h200.md); the machine has no network, so nothing is downloaded.
set -euo pipefail
t0=$(date +%s.%N)
mkdir -p /tmp/site
if command -v xz >/dev/null; then
  cat /tmp/wheels/site.tar.xz.part-* | xz -dc -T0 | tar -x -C /tmp/site
else
  cat /tmp/wheels/site.tar.xz.part-* | python3 -c \
    "import sys, tarfile; tarfile.open(fileobj=sys.stdin.buffer, mode='r|xz').extractall('/tmp/site')"
fi
echo "unpacked in $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s; $(du -sh /tmp/site | cut -f1)"
