#!/usr/bin/env bash
# The whole pipeline on the bundled sample, end to end (a few minutes on a CPU; docs/sample.md):
#   make_sample_data -> csv2json -> gen_trainDataset -> kinetics_gendata -> train -> test
#   -> extract (validation + abnormal clips) -> dbscan.py -> visualize.py
# Usage: bash tools/quickstart.sh            (outputs under data/ and work_dir/quickstart/)
# Environment: PYTHON (default python), EPOCHS (default: the rat config's num_epoch).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python}"
WORK=work_dir/quickstart
SAMPLE=data/sample
DATASET=data/dlc-skeleton
ABNORMAL=data/sample-abnormal
CLIP=(--width 640 --height 480 --fps 30 --clip_len 64 --stride 32)
EPOCH_ARGS=()
if [ -n "${EPOCHS:-}" ]; then EPOCH_ARGS=(--num_epoch "$EPOCHS"); fi
"$PY" main.py -h >/dev/null || exit 1  # says in one line what to do when the requirements are not installed
start=$(date +%s)
step() { echo; echo "==> [$(( $(date +%s) - start ))s] $*"; }

step "1/9 writing the sample DeepLabCut project to $SAMPLE"
"$PY" tools/make_sample_data.py --out "$SAMPLE" --seed 0

step "2/9 csv2json: DLC CSVs -> 64-frame JSON clips"
rm -rf data/sample-json data/sample-abnormal-json
"$PY" tools/csv2json.py --input "$SAMPLE/csv_data" --output data/sample-json "${CLIP[@]}" --log_level WARNING

step "3/9 gen_trainDataset: train/val split grouped by recording"
"$PY" tools/gen_trainDataset.py --input data/sample-json --output "$DATASET" --force --log_level WARNING

step "4/9 kinetics_gendata: JSON clips -> $DATASET/{train,val}_data.npy"
"$PY" tools/kinetics_gendata.py --data_path "$DATASET" --out_folder "$DATASET" --max_frame 64 --num_person_out 1

step "5/9 training ST-GCN (config/st_gcn/rat/train.yaml)"
rm -rf "$WORK"
"$PY" main.py recognition -c config/st_gcn/rat/train.yaml --work_dir "$WORK/train" "${EPOCH_ARGS[@]}" \
  --log_interval 1000
weights=$(ls -t "$WORK"/train/epoch*_model.pt | head -n 1)

step "6/9 testing $weights on the validation split"
"$PY" main.py recognition -c config/st_gcn/rat/test.yaml --weights "$weights" --work_dir "$WORK/test" \
  --label_names "$DATASET/classes.txt" --save_result true

step "7/9 extracting embeddings of the validation clips and one held-out abnormal (seizure) clip per recording"
(cat "$DATASET/classes.txt"; echo seizure) > "$WORK/classes_with_abnormal.txt"
# anomalies are rare: one 64-frame clip from each of the 4 abnormal recordings, among the 90 validation clips
"$PY" tools/csv2json.py --input "$SAMPLE/abnormal" --label seizure --classes "$WORK/classes_with_abnormal.txt" \
  --output data/sample-abnormal-json --width 640 --height 480 --clip_len 64 --stride 100000 --log_level WARNING
"$PY" tools/gen_trainDataset.py --input data/sample-abnormal-json --output "$ABNORMAL" --train_ratio 1 --force \
  --log_level WARNING >/dev/null
"$PY" tools/kinetics_gendata.py --data_path "$ABNORMAL" --out_folder "$ABNORMAL" --split train --max_frame 64 \
  --num_person_out 1 2>/dev/null
"$PY" main.py extract -c config/st_gcn/rat/test.yaml --weights "$weights" --work_dir "$WORK/features" \
  --data_path "$DATASET/val_data.npy" "$ABNORMAL/train_data.npy" \
  --label_path "$DATASET/val_label.pkl" "$ABNORMAL/train_label.pkl" \
  --label_names "$WORK/classes_with_abnormal.txt"

step "8/9 dbscan.py: clusters, anomaly ranking and cluster map"
"$PY" tools/dbscan.py --features "$WORK/features/features.pkl" --out "$WORK/clusters" --seed 0 \
  --abnormal_label seizure

step "9/9 visualize.py: rendering the 6 most anomalous clips"
"$PY" tools/visualize.py --clusters "$WORK/clusters/clusters.csv" --data "$DATASET/val_data.npy" \
  "$ABNORMAL/train_data.npy" --top 6 --out "$WORK/clusters/anomalies" 2>/dev/null || \
  echo "(visualize.py could not render the anomalies; see the command above)"

top1=$(grep -o 'Top1: [0-9.]*%' "$WORK/test/log.txt" | tail -n 1)
echo
echo "Done in $(( $(date +%s) - start ))s. Validation ${top1:-Top1: n/a} (5 behaviours, chance 20%)."
echo "  trained weights    $weights"
echo "  training log       $WORK/train/log.txt"
echo "  test results       $WORK/test/ (log.txt, test_result.pkl)"
echo "  embeddings         $WORK/features/features.pkl, predictions.csv"
echo "  clusters           $WORK/clusters/clusters.csv, summary.json"
echo "  cluster map        $WORK/clusters/cluster_map.png"
echo "  anomalies          $WORK/clusters/anomalies/"
