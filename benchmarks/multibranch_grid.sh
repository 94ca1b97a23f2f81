#!/usr/bin/env bash
# Plain ST-GCN against the multi-branch model and each of its three changes alone, on the quick start's dataset
# (run bash tools/quickstart.sh first), seeds 0-2, identical data, input and schedule. Prints one line per run:
# variant, seed, exit code, seconds, and the last row of its metrics.csv (epoch, train_loss, lr, val_loss, top1, ...).
#   EPOCHS=2 bash benchmarks/multibranch_grid.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
EPOCHS="${EPOCHS:-2}"
DS=data/dlc-skeleton
OUT="${OUT:-work_dir/multibranch_grid}"
mkdir -p "$OUT"
declare -A CFG=( [plain]=config/st_gcn/rat/train.yaml [mb]=config/st_gcn_mb/rat/train.yaml
                 [ms]=config/st_gcn_mb/rat/train.yaml [se]=config/st_gcn_mb/rat/train.yaml
                 [noise]=config/st_gcn_mb/rat/train.yaml )
declare -A ARGS=( [plain]="" [mb]="" [ms]="se=False adjacency_noise=None"
                  [se]="temporal='plain' adjacency_noise=None" [noise]="temporal='plain' se=False" )
for seed in 0 1 2; do
  for v in plain mb ms se noise; do
    wd="$OUT/$v-s$seed"
    extra=()
    [ -n "${ARGS[$v]}" ] && extra=(--model_args ${ARGS[$v]})
    start=$(date +%s)
    "$PY" main.py recognition -c "${CFG[$v]}" --work_dir "$wd" --seed "$seed" --num_epoch "$EPOCHS" \
      --eval_interval 1 --num_worker 0 --use_gpu false --log_interval 1000 \
      --train_feeder_args data_path=$DS/train_data.npy label_path=$DS/train_label.pkl \
      --test_feeder_args data_path=$DS/val_data.npy label_path=$DS/val_label.pkl "${extra[@]}" > "$wd.out" 2>&1
    rc=$?
    echo -e "$v\t$seed\t$rc\t$(( $(date +%s) - start ))s\t$(tail -n 1 "$wd/metrics.csv" 2>/dev/null)"
  done
done
