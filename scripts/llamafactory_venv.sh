#!/usr/bin/env bash
# Build .venv-llamafactory: LLaMA-Factory 0.9.5 pins gradio<=5.50, peft<=0.18.1, transformers<=5.6,
# accelerate<=1.11, trl<=0.24 and imports torchaudio, so it cannot share the app's .venv.
# Idempotent: a stamp records the constraints it was built from.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${LLAMAFACTORY_VENV:-.venv-llamafactory}"
PYTHON="${PYTHON:-python3.11}"
CONSTRAINTS=scripts/llamafactory-constraints.txt
STAMP="$VENV/.installed"
if [ -f "$STAMP" ] && cmp -s "$STAMP" "$CONSTRAINTS"; then
  exit 0
fi
start=$(date +%s)
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip wheel
"$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" torch torchvision torchaudio llamafactory==0.9.5
cp "$CONSTRAINTS" "$STAMP"
echo "built $VENV in $(( $(date +%s) - start )) s"
