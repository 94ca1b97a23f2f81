"""Pair normalisations on the social sample: per-animal alignment against the focal animal's frame, the pair's frame
and raw frame coordinates, same data and schedule, several seeds.

The two-animal sample (``tools/make_sample_data.py --social``: approach, follow, side-by-side sniffing, fighting,
apart) goes through the pipeline as a user's maDLC files would (csv2json -> gen_trainDataset -> kinetics_gendata
--num_person_out 2 -> main.py recognition with config/st_gcn/rat_social/train.yaml, only ``normalize`` changed);
each trained model labels the held-out pair recordings with ``main.py demo --annotations`` (every frame of a
recording carries its behaviour), and the pooled per-frame macro F1 and the validation clips' top-1 are reported.

    python benchmarks/social_sample.py [--modes egocentric_clip egocentric_focal egocentric_pair frame]
                                       [--seeds 0 1 2] [--epochs 8] [--work /tmp/social_sample]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from real_labelled import quiet_logging  # noqa: E402
from torchlight import atomic_write, run_cli  # noqa: E402

logger = logging.getLogger('social_sample')
CONFIG = os.path.join(ROOT, 'config', 'st_gcn', 'rat_social', 'train.yaml')
MODES = ('egocentric_clip', 'egocentric_focal', 'egocentric_pair', 'frame')
DEFAULT_WORK = os.path.join(tempfile.gettempdir(), 'social_sample')


def _quiet(function, argv: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return function(argv)


def prepare(work: str, recordings: int, frames: int, clip_len: int, stride: int) -> dict[str, Any]:
    """The sample, its clips and the train/val arrays; per-frame labels of the validation recordings."""
    from tools import csv2json, gen_trainDataset, kinetics_gendata
    from tools.make_sample_data import make_social_sample
    from tools.quickstart import held_out_recordings, write_frame_labels
    make_social_sample(os.path.join(work, 'sample'), recordings=recordings, frames=frames)
    csv_data = os.path.join(work, 'sample', 'csv_data')
    json_dir, dataset = os.path.join(work, 'json'), os.path.join(work, 'dataset')
    _quiet(csv2json.main, ['--input', csv_data, '--output', json_dir, '--width', '640', '--height', '480', '--fps',
                           '30', '--clip_len', str(clip_len), '--stride', str(stride), '--log_level', 'ERROR'])
    _quiet(gen_trainDataset.main, ['--input', json_dir, '--output', dataset, '--force', '--log_level', 'ERROR'])
    _quiet(kinetics_gendata.main, ['--data_path', dataset, '--out_folder', dataset, '--max_frame', str(clip_len),
                                   '--num_person_out', '2', '--num_workers', '1'])
    held_out = held_out_recordings(os.path.join(dataset, 'kinetics_val_label.json'), csv_data)
    labels = os.path.join(work, 'labels')
    os.makedirs(labels, exist_ok=True)
    write_frame_labels(held_out, labels)
    return {'dataset': dataset, 'held_out': [path for path, _ in held_out], 'labels': labels}


def train_and_label(data: dict[str, Any], work: str, mode: str, seed: int, epochs: int) -> dict[str, Any]:
    import main as main_module
    with open(CONFIG) as handle:
        config = yaml.safe_load(handle)
    dataset = data['dataset']
    for split, args in (('train', config['train_feeder_args']), ('val', config['test_feeder_args'])):
        args.update(data_path=f'{dataset}/{split}_data.npy', label_path=f'{dataset}/{split}_label.pkl',
                    normalize=mode)
    config.update(num_epoch=epochs, step=[max(1, epochs * 3 // 4)], eval_interval=epochs, save_interval=epochs,
                  num_worker=0, log_interval=10 ** 6)
    run = os.path.join(work, f'{mode}_seed{seed}')
    os.makedirs(run, exist_ok=True)
    path = os.path.join(run, 'train.yaml')
    with open(path, 'w') as handle:
        yaml.safe_dump(config, handle)
    started = time.perf_counter()
    if main_module.main(['recognition', '-c', path, '-w', os.path.join(run, 'train'), '--seed', str(seed),
                         '--label_names', os.path.join(dataset, 'classes.txt'), '--print_log', 'false']) != 0:
        raise RuntimeError(f'training failed: {run}')
    train_s = time.perf_counter() - started
    with open(os.path.join(run, 'train', 'metrics.csv')) as handle:
        top1 = float(handle.read().strip().splitlines()[-1].split(',')[4])
    demo = os.path.join(run, 'demo')
    folder = os.path.join(run, 'held_out')
    os.makedirs(folder, exist_ok=True)
    for recording in data['held_out']:
        target = os.path.join(folder, os.path.basename(recording))
        if not os.path.exists(target):
            os.symlink(recording, target)
    if main_module.main(['demo', '--weights', os.path.join(run, 'train', f'epoch{epochs}_model.pt'), '--input',
                         folder, '--annotations', data['labels'], '-w', demo, '--print_log', 'false']) != 0:
        raise RuntimeError(f'demo failed: {demo}')
    with open(os.path.join(demo, 'evaluation', 'evaluation.json')) as handle:
        pooled = json.load(handle)
    return {'top1': top1, 'macro_f1': pooled['macro_f1'], 'accuracy': pooled['accuracy'],
            'per_class_f1': {row['class']: row['f1'] for row in pooled['per_class']}, 'train_seconds': train_s}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--modes', nargs='+', default=list(MODES), choices=MODES, help='normalisations compared')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='training seeds')
    parser.add_argument('--epochs', type=int, default=8, help='training epochs (the config\'s schedule)')
    parser.add_argument('--recordings', type=int, default=6, help='pairs per behaviour in the sample')
    parser.add_argument('--frames', type=int, default=600, help='frames per recording')
    parser.add_argument('--stride', type=int, default=32, help='frames between the 64-frame training clips')
    parser.add_argument('--work', default=DEFAULT_WORK, help='working folder (replaced)')
    parser.add_argument('--out', default=os.path.join(tempfile.gettempdir(), 'social_sample.json'),
                        help='JSON file for the results')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_logging()
    shutil.rmtree(args.work, ignore_errors=True)
    data = prepare(args.work, args.recordings, args.frames, 64, args.stride)
    results: dict[str, Any] = {'settings': vars(args), 'modes': {}}
    for mode in args.modes:
        runs = []
        for seed in args.seeds:
            runs.append(train_and_label(data, args.work, mode, seed, args.epochs))
            logger.info('%s seed %d: macro F1 %.3f, validation top-1 %.1f%%', mode, seed, runs[-1]['macro_f1'],
                        runs[-1]['top1'])
        results['modes'][mode] = {'runs': runs, 'macro_f1': float(np.mean([r['macro_f1'] for r in runs])),
                                  'macro_f1_sd': float(np.std([r['macro_f1'] for r in runs])),
                                  'top1': float(np.mean([r['top1'] for r in runs]))}
    with atomic_write(args.out, 'w') as handle:
        json.dump(results, handle, indent=1)
    print('| normalize | per-frame macro F1 (mean ± sd) | validation top-1 | per class F1 |')
    print('|---|---|---|---|')
    for mode, entry in results['modes'].items():
        classes = entry['runs'][0]['per_class_f1']
        per_class = ', '.join(f'{c} {np.mean([r["per_class_f1"][c] for r in entry["runs"]]):.2f}' for c in classes)
        print(f'| {mode} | {entry["macro_f1"]:.3f} ± {entry["macro_f1_sd"]:.3f} | {entry["top1"]:.1f}% | '
              f'{per_class} |')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    run_cli(main)
