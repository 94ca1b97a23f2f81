#!/usr/bin/env bash
# The whole pipeline on the bundled sample, end to end (a few minutes on a CPU; docs/sample.md). The steps are
# tools/quickstart.py's (one implementation, which also runs on Windows and macOS without bash):
#   make_sample_data -> csv2json -> gen_trainDataset -> kinetics_gendata -> train -> test
#   -> extract (validation + abnormal clips) -> dbscan.py -> visualize.py
# Usage: bash tools/quickstart.sh            (outputs under data/ and work_dir/quickstart/)
#        bash tools/quickstart.sh --social   (the two-animal sample and a pair model: work_dir/quickstart_social/)
# Environment: PYTHON (default python), EPOCHS (default: the config's num_epoch).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python}"
EPOCH_ARGS=()
if [ -n "${EPOCHS:-}" ]; then EPOCH_ARGS=(--epochs "$EPOCHS"); fi
exec "$PY" "$ROOT/tools/quickstart.py" "${EPOCH_ARGS[@]}" "$@"
