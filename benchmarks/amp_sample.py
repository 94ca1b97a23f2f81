"""bf16 (--amp) against fp32 on the bundled sample: training curves and test-time top-1 agreement.

Trains the rat config twice from the same seed, once in fp32 and once with ``--amp true``, and compares the
per-epoch training loss, validation loss and top-1 from both runs' metrics.csv. A third run, fp32 from another
seed, gives the yardstick: how far two fp32 runs drift apart anyway. Then it scores the train and validation
splits with the fp32-trained weights in fp32 and in bf16 (``--phase test --amp``) and reports how often the two
top-1 classes agree. Needs the quick start's dataset (``bash tools/quickstart.sh`` writes it).

    python benchmarks/amp_sample.py [--epochs 8] [--out work_dir/amp_sample]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from processor.processor import amp_policy  # noqa: E402
from torchlight import atomic_write, safe_load_pickle  # noqa: E402

CONFIG = 'config/st_gcn/rat/train.yaml'
TEST_CONFIG = 'config/st_gcn/rat/test.yaml'


def run_main(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, 'main.py', *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f'exit code {proc.returncode}'
        raise SystemExit(f'main.py {" ".join(args)} failed: {last}')


def read_metrics(path: str) -> list[dict[str, float | None]]:
    with open(path, newline='') as handle:
        return [{k: float(v) if v not in ('', None) else None for k, v in row.items()}
                for row in csv.DictReader(handle)]


def scores(work: str) -> dict[str, np.ndarray]:
    return safe_load_pickle(os.path.join(work, 'test_result.pkl'))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default='data/dlc-skeleton', help='folder with {train,val}_{data.npy,label.pkl}')
    parser.add_argument('--epochs', type=int, default=8, help='training epochs of each run')
    parser.add_argument('--seed', type=int, default=0, help='seed of both runs')
    parser.add_argument('--out', default='work_dir/amp_sample', help='folder for both runs and result.json')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = os.path.join(ROOT, args.data)
    if not os.path.isfile(os.path.join(data, 'train_data.npy')):
        raise SystemExit(f'{args.data}/train_data.npy not found: run `bash tools/quickstart.sh` first')
    if amp_policy(torch.device('cpu'), True)[0] is None:
        raise SystemExit('this CPU has no fast bfloat16 support, so --amp would run in float32: nothing to compare')
    splits = {s: [f'data_path={data}/{s}_data.npy', f'label_path={data}/{s}_label.pkl'] for s in ('train', 'val')}
    out = os.path.join(ROOT, args.out)
    curves, seconds = {}, {}
    for name, amp, seed in (('fp32', 'false', args.seed), ('bf16', 'true', args.seed),
                            ('fp32_other_seed', 'false', args.seed + 1)):
        work = os.path.join(out, name)
        t0 = time.perf_counter()
        run_main(['recognition', '-c', CONFIG, '-w', work, '--amp', amp, '--num_epoch', str(args.epochs),
                  '--step', str(max(1, args.epochs * 3 // 4)), '--eval_interval', '1', '--seed', str(seed),
                  '--train_feeder_args', *splits['train'], '--test_feeder_args', *splits['val']])
        seconds[name] = time.perf_counter() - t0
        curves[name] = read_metrics(os.path.join(work, 'metrics.csv'))
    agreement = {}
    weights = os.path.join(out, 'fp32', f'epoch{args.epochs}_model.pt')
    for split in ('train', 'val'):
        results = {}
        for name, amp in (('fp32', 'false'), ('bf16', 'true')):
            work = os.path.join(out, f'test_{split}_{name}')
            run_main(['recognition', '-c', TEST_CONFIG, '-w', work, '--weights', weights, '--amp', amp,
                      '--save_result', 'true', '--test_feeder_args', *splits[split]])
            results[name] = scores(work)
        same = [int(np.argmax(results['fp32'][k]) == np.argmax(results['bf16'][k])) for k in results['fp32']]
        agreement[split] = {'clips': len(same), 'top1_agreement': float(np.mean(same))}
    rows = []
    for a, b, c in zip(curves['fp32'], curves['bf16'], curves['fp32_other_seed']):
        rows.append({'epoch': int(a['epoch']), 'train_loss_fp32': a['train_loss'], 'train_loss_bf16': b['train_loss'],
                     'train_loss_fp32_other_seed': c['train_loss'], 'val_loss_fp32': a['val_loss'],
                     'val_loss_bf16': b['val_loss'], 'top1_fp32': a['top1'], 'top1_bf16': b['top1'],
                     'top1_fp32_other_seed': c['top1']})
    result = {'epochs': rows,
              'train_loss_max_abs_diff': max(abs(r['train_loss_bf16'] - r['train_loss_fp32']) for r in rows),
              'train_loss_max_abs_diff_fp32_seeds': max(abs(r['train_loss_fp32_other_seed'] - r['train_loss_fp32'])
                                                        for r in rows),
              'top1_max_abs_diff': max(abs(r['top1_bf16'] - r['top1_fp32']) for r in rows),
              'top1_max_abs_diff_fp32_seeds': max(abs(r['top1_fp32_other_seed'] - r['top1_fp32']) for r in rows),
              'agreement': agreement, 'training_seconds': seconds}
    with atomic_write(os.path.join(out, 'result.json'), 'w') as handle:
        json.dump(result, handle, indent=1)
    print(f'{"epoch":>5} {"loss fp32":>10} {"loss bf16":>10} {"loss fp32 seed+1":>16} {"top1 fp32":>9} '
          f'{"top1 bf16":>9} {"top1 fp32 seed+1":>16}')
    for r in rows:
        print(f'{r["epoch"]:5d} {r["train_loss_fp32"]:10.4f} {r["train_loss_bf16"]:10.4f} '
              f'{r["train_loss_fp32_other_seed"]:16.4f} {r["top1_fp32"]:9.2f} {r["top1_bf16"]:9.2f} '
              f'{r["top1_fp32_other_seed"]:16.2f}')
    print(f'training loss per epoch: bf16 differs from fp32 by at most {result["train_loss_max_abs_diff"]:.4f}; two '
          f'fp32 seeds differ by at most {result["train_loss_max_abs_diff_fp32_seeds"]:.4f}')
    print(f'validation top-1 per epoch: bf16 differs from fp32 by at most {result["top1_max_abs_diff"]:.2f} points; '
          f'two fp32 seeds by at most {result["top1_max_abs_diff_fp32_seeds"]:.2f}')
    print(f'training took {seconds["fp32"]:.0f} s in fp32, {seconds["bf16"]:.0f} s with --amp')
    for split, a in agreement.items():
        print(f'{split}: bf16 and fp32 top-1 agree on {100 * a["top1_agreement"]:.2f}% of {a["clips"]} clips')
    print(f'wrote {os.path.join(out, "result.json")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
