"""Whole-recording labelling speed: `main.py demo` on one hour at 30 fps (108,000 frames, 12 bodyparts).

The recording is stitched from the sample generator's behaviours (10-second segments), written as a DLC CSV, and
labelled with window 64 and stride 8 by the rat config's model (random weights: speed does not depend on them), or
with ``--dense`` by the per-frame model (net.st_gcn_dense.Model) with demo's default stride for it (half a window).
The whole command is timed, reading the CSV and writing ethogram.csv/bouts.csv/ethogram.png included.

    python benchmarks/demo_hour.py [--frames 108000] [--window 64] [--stride 8] [--dense] [--amp] [--out demo.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402


def write_recording(path: str, frames: int, seed: int = 0) -> None:
    """A DLC CSV of ``frames`` frames: 10-second segments of the sample's behaviours, one animal."""
    from tools import make_sample_data as msd
    rng = np.random.default_rng(seed)
    animal = msd.make_animal(rng, 480.0)  # scaled with the frame height
    segments, total = [], 0
    while total < frames:
        behaviour = msd.BEHAVIOURS[len(segments) % len(msd.BEHAVIOURS)]
        segment = msd.simulate_recording(behaviour, animal, rng, n_frames=300, fps=30.0, width=640, height=480)
        segments.append(segment)
        total += len(segment)
    data = np.concatenate(segments)[:frames]
    with open(path, 'w') as handle:
        handle.write(msd.dlc_csv_text(data))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--frames', type=int, default=108_000,
                        help='recording length in frames (default 1 h at 30 fps)')
    parser.add_argument('--window', type=int, default=64, help='frames per window (default 64)')
    parser.add_argument('--stride', type=int, default=None,
                        help='frames between windows (default 8; with --dense half a window)')
    parser.add_argument('--dense', action='store_true', help='the per-frame model instead of the clip classifier')
    parser.add_argument('--amp', action='store_true', help='bf16 autocast (on CPUs that support it)')
    parser.add_argument('--out', default=None, help='write the result as JSON here')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import main as main_module
    from net.st_gcn import Model
    from net.st_gcn_dense import Model as DenseModel
    stride = args.stride or (args.window // 2 if args.dense else 8)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = os.path.join(tmp, 'sessionDLC_resnet50_ratsampleNov26shuffle1_100000.csv')
        started = time.perf_counter()
        write_recording(csv_path, args.frames)
        made = time.perf_counter() - started
        weights = os.path.join(tmp, 'rat.pt')
        torch.manual_seed(0)
        model = (DenseModel if args.dense else Model)(3, 5, {'layout': 'rat', 'strategy': 'spatial'})
        torch.save(model.state_dict(), weights)
        argv = ['demo', '-c', 'config/st_gcn/rat/test.yaml', '--weights', weights, '--input', csv_path,
                '--window', str(args.window), '--stride', str(stride), '--fps', '30', '--width', '640',
                '--height', '480', '-w', os.path.join(tmp, 'out'), '--print_log', 'false']
        if args.dense:
            argv += ['--model', 'net.st_gcn_dense.Model']
        if args.amp:
            argv += ['--amp', 'true']
        started = time.perf_counter()
        code = main_module.main(argv)
        seconds = time.perf_counter() - started
        if code != 0:
            raise SystemExit(f'demo failed with exit code {code}')
    windows = (args.frames - args.window) // stride + 1
    result = {'frames': args.frames, 'model': 'dense' if args.dense else 'clip', 'window': args.window,
              'stride': stride, 'windows': windows, 'amp': args.amp, 'seconds': round(seconds, 1),
              'windows_per_s': round(windows / seconds, 1),
              'recording_s': args.frames / 30.0, 'faster_than_real_time': round(args.frames / 30.0 / seconds, 1),
              'threads': torch.get_num_threads(), 'csv_generation_s': round(made, 1)}
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, 'w') as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
