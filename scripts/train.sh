#!/usr/bin/env bash
# Fine-tune Qwen2-VL with LLaMA-Factory on an export from `dermagraph export llamafactory --out DIR`.
#
#   scripts/train.sh DIR/qwen2vl_lora_sft.yaml [key=value ...]
#
# Extra key=value pairs override the yaml (e.g. model_name_or_path=Qwen/Qwen2-VL-7B-Instruct
# output_dir=saves/7b gradient_accumulation_steps=2). With several GPUs visible, llamafactory-cli
# launches one process per GPU through torchrun (FORCE_TORCHRUN=1 forces it; NNODES, NODE_RANK,
# MASTER_ADDR and MASTER_PORT for several machines). Uses .venv-llamafactory (built by
# scripts/llamafactory_venv.sh) unless LLAMAFACTORY_CLI points elsewhere.
set -euo pipefail
if [ $# -lt 1 ] || [ ! -f "$1" ]; then
  echo "usage: scripts/train.sh EXPORT_DIR/qwen2vl_lora_sft.yaml [key=value ...]" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CLI="${LLAMAFACTORY_CLI:-$ROOT/.venv-llamafactory/bin/llamafactory-cli}"
if [ ! -x "$CLI" ]; then
  echo "llamafactory-cli not found at $CLI: run scripts/llamafactory_venv.sh (or set LLAMAFACTORY_CLI)" >&2
  exit 2
fi
export DISABLE_VERSION_CHECK=1 HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" TRANSFORMERS_OFFLINE="${TRANSFORMERS_OFFLINE:-1}"
exec "$CLI" train "$@"
