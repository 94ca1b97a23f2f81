#!/usr/bin/env bash
# Download the published ST-GCN checkpoints into models/ (or $ST_GCN_MODEL_DIR).
#
#   bash tools/get_models.sh            # all three
#   ST_GCN_MODEL_URL=file:///mirror/models bash tools/get_models.sh   # from a mirror or a local folder
#
# Resumable (curl -C -), skips files that are already complete, and checks that each file loads as a
# state dict with the published model's keys and shapes before moving it into place.
set -euo pipefail

BASE_URL="${ST_GCN_MODEL_URL:-https://github.com/yysijie/st-gcn/releases/download/v0.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${ST_GCN_MODEL_DIR:-$ROOT/models}"
PYTHON="${PYTHON:-python}"
MODELS=(st_gcn.kinetics.pt st_gcn.ntu-xsub.pt st_gcn.ntu-xview.pt)
if [ "$#" -gt 0 ]; then MODELS=("$@"); fi

command -v curl >/dev/null 2>&1 || { echo "get_models.sh: error: curl is not installed" >&2; exit 1; }
mkdir -p "$DEST"

check() {  # check <file> <name>: does it load as the published model's state dict?
  "$PYTHON" "$ROOT/tools/check_weights.py" "$1" --model "$2"
}

failed=()
for name in "${MODELS[@]}"; do
  target="$DEST/$name"
  if [ -f "$target" ] && check "$target" "$name" >/dev/null 2>&1; then
    echo "$name: already present, skipped"
    continue
  fi
  partial="$target.part"
  echo "$name: downloading from $BASE_URL/$name"
  if ! curl --fail --location --silent --show-error --retry 3 --connect-timeout 20 \
        -C - -o "$partial" "$BASE_URL/$name" 2>"$partial.err"; then
    echo "get_models.sh: error: could not download $BASE_URL/$name ($(tail -n 1 "$partial.err" | sed 's/^curl: //'))" >&2
    rm -f "$partial.err"
    failed+=("$name")
    continue
  fi
  rm -f "$partial.err"
  if ! message=$(check "$partial" "$name" 2>&1); then
    echo "get_models.sh: error: $name does not look like the published model: $message" >&2
    rm -f "$partial"
    failed+=("$name")
    continue
  fi
  mv "$partial" "$target"
  echo "$name: saved to $target"
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "get_models.sh: failed: ${failed[*]}" >&2
  exit 1
fi
