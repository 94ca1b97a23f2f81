"""The per-frame (dense) model against the clip (window) classifier and the hand-feature baseline on the bundled
sample's behaviours, stitched into recordings with transitions.

Each recording (one simulated rat, 30 fps, 12 bodyparts) is a sequence of the sample generator's five behaviours in
random order (never the same twice in a row), each for a random 1 to 8 s: short bouts are where averaging windows
smears and loses them. Each segment is turned and moved so that it starts where the previous one ended, facing the
same way, unless it would then leave the arena (1280 x 960 pixels; it is turned further, by 45-degree steps, or if
no turn keeps it in, moved back in: counted in the log); the posture still changes at once, which real recordings
do not. The labels are a per-frame ``frame,label`` CSV beside each pose file. All recordings but the last train;
the last is labelled and scored, through the same pipeline and scoring as ``benchmarks/real_labelled.py`` (whose
``STGCN`` settings apply).

    python benchmarks/dense_sample.py [--recordings 5] [--seconds 120] [--methods dense window gbm]
                                      [--seeds 0 1 2] [--work /tmp/dense_sample] [--out /tmp/dense_sample.json]
"""
from __future__ import annotations

import argparse
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

import hand_features as hf  # noqa: E402
import real_labelled as rl  # noqa: E402
from processor import evaluation  # noqa: E402
from tools import make_sample_data as msd  # noqa: E402
from torchlight import atomic_write, run_cli  # noqa: E402

logger = logging.getLogger('dense_sample')
FPS = 30.0
CENTRE, HEADING = 'spine', ('tail_base', 'neck')


def _pose_frame(segment: np.ndarray, index: int) -> tuple[np.ndarray, float]:
    """(centre (2,), heading angle) of one frame of a (T, V, 3) segment."""
    names = msd.BODYPARTS
    xy = segment[index, :, :2].astype(np.float64)
    tail, neck = xy[names.index(HEADING[0])], xy[names.index(HEADING[1])]
    return xy[names.index(CENTRE)], float(np.arctan2(*(neck - tail)[::-1]))


def _placed(segment: np.ndarray, start: np.ndarray, centre: np.ndarray, turn: float) -> np.ndarray:
    """The segment turned by ``turn`` about ``start`` and moved there to ``centre``."""
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    moved = segment.copy()
    moved[..., :2] = (segment[..., :2] - start) @ rotation.T + centre
    return moved


def stitch(segments: Sequence[np.ndarray], width: float = 1280, height: float = 960) -> tuple[np.ndarray, int, int]:
    """(T, V, 3) one recording of the segments in an arena of ``width`` x ``height`` pixels (larger than the
    segments' own 640 x 480, so that the walk meets its walls less often), the first at its centre, each next one
    starting where the previous one ended, facing the same way where it then stays in the arena, else turned by the
    smallest multiple of 45 degrees that keeps it in (a sudden turn), else moved back in (a jump); with the counts
    of turns and jumps."""
    first_centre, _ = _pose_frame(segments[0], 0)
    out, turns, jumps = [_placed(segments[0], first_centre, np.array([width, height]) / 2, 0.0)], 0, 0
    limit = np.array([width - 1, height - 1])
    for segment in segments[1:]:
        end_centre, end_heading = _pose_frame(out[-1], -1)
        start_centre, start_heading = _pose_frame(segment, 0)
        for extra in np.pi / 4 * np.array([0, 1, -1, 2, -2, 3, -3, 4]):
            moved = _placed(segment, start_centre, end_centre, end_heading - start_heading + extra)
            confident = moved[..., :2][moved[..., 2] >= 0.6]                 # (n, 2)
            if (confident >= 0).all() and (confident <= limit).all():
                turns += extra != 0
                break
        else:
            moved = _placed(segment, start_centre, end_centre, end_heading - start_heading)
            confident = moved[..., :2][moved[..., 2] >= 0.6]
            moved[..., :2] += np.maximum(0, -confident.min(0)) - np.maximum(0, confident.max(0) - limit)
            jumps += 1
        out.append(moved)
    return np.concatenate(out).astype(np.float32), turns, jumps


def make_recordings(folder: str, count: int, seconds: float, seed: int = 0) -> dict[str, tuple[str, str]]:
    """``count`` stitched recordings of about ``seconds`` each, as DLC CSVs with per-frame label CSVs."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    recordings = {}
    for index in range(count):
        animal = msd.make_animal(rng, 480.0)
        segments, labels, total = [], [], 0
        while total < seconds * FPS:
            behaviour = rng.choice([b for b in msd.BEHAVIOURS if not labels or b != labels[-1]])
            frames = int(rng.uniform(1.0, 8.0) * FPS)
            segments.append(msd.simulate_recording(behaviour, animal, rng, n_frames=frames, fps=FPS, width=640,
                                                   height=480))
            labels += [behaviour] * frames
            total += frames
        name = f'stitched{index + 1:02d}'
        pose = os.path.join(folder, f'{name}DLC_resnet50_ratsampleNov26shuffle1_100000.csv')
        data, turns, jumps = stitch(segments)
        logger.info('%s: %d segments, %.0f s; %d turned and %d moved to stay in the frame', name, len(segments),
                    len(data) / FPS, turns, jumps)
        with atomic_write(pose, 'w') as handle:
            handle.write(msd.dlc_csv_text(data))
        truth = os.path.join(folder, f'{name}_labels.csv')
        with atomic_write(truth, 'w') as handle:
            handle.write('frame,label\n' + ''.join(f'{t},{label}\n' for t, label in enumerate(labels)))
        recordings[name] = (os.path.basename(pose), os.path.basename(truth))
    return recordings


def sample_task(recordings: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """A ``real_labelled`` task for the stitched recordings (the rat layout's bodyparts, no background)."""
    return {'folder': 'stitched', 'classes': sorted(msd.BEHAVIOURS), 'background': None, 'fps': 25.0,
            'source_fps': FPS, 'recordings': recordings, 'rename': [], 'bodyparts': list(msd.BODYPARTS),
            'layout': 'rat', 'center': CENTRE, 'heading': list(HEADING)}


def run_gbm(task: dict[str, Any], folder: str, train: Sequence[str], test: str, seed: int
            ) -> dict[str, dict[str, Any]]:
    """The hand-feature baseline trained on every training recording, raw and smoothed."""
    features, truths = [], []
    for name in train:
        x, _, _ = rl.gbm_features(task, folder, name)
        features.append(x)
        truths.append(rl.truth_of(task, folder, name, len(x)))
    x_test, _, fps = rl.gbm_features(task, folder, test)
    truth = rl.truth_of(task, folder, test, len(x_test))
    model = hf.fit_baseline(features, truths, seed=seed, num_class=len(task['classes']))
    probs = hf.predict_baseline(model, x_test)
    return {'gbm': evaluation.evaluate(truth, probs.argmax(1), task['classes']),
            'gbm (smoothed)': evaluation.evaluate(truth, hf.smooth_probs(probs, fps, rl.GBM_SMOOTH_S).argmax(1),
                                                  task['classes'])}


def run(work: str, count: int, seconds: float, methods: Sequence[str], seeds: Sequence[int]) -> dict[str, Any]:
    data = os.path.join(work, 'data')
    recordings = make_recordings(os.path.join(data, 'stitched'), count, seconds)
    task = sample_task(recordings)
    folder = os.path.join(data, task['folder'])
    *train, test = list(recordings)
    per_method: dict[str, list[dict[str, Any]]] = {}
    for seed in seeds:
        for method in methods:
            started = time.perf_counter()
            scores = (run_gbm(task, folder, train, test, seed) if method == 'gbm' else
                      rl.run_stgcn(task, folder, os.path.join(work, 'runs'), method, 'rest', test, seed, smooth=True))
            for label, result in scores.items():
                per_method.setdefault(label, []).append(result)
                logger.info('seed %d %s: %s (%.0f s)', seed, label, evaluation.summary_line('', result),
                            time.perf_counter() - started)
    direction = f'{"+".join(train)}->{test}'
    entry = {'classes': task['classes'], 'directions': {direction: {
        label: {'summary': rl.summarise(values, task['classes'], FPS), 'runs': values}
        for label, values in per_method.items()}}}
    return {'settings': {'stgcn': rl.STGCN, 'recordings': count, 'seconds': seconds, 'seeds': list(seeds)},
            'tasks': {'stitched sample': entry}}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--recordings', type=int, default=5, help='stitched recordings; the last is the test one')
    parser.add_argument('--seconds', type=float, default=120.0, help='length of each recording in seconds')
    parser.add_argument('--methods', nargs='+', default=list(rl.METHODS), choices=rl.METHODS, help='methods to run')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='training seeds')
    parser.add_argument('--epochs', type=int, default=rl.STGCN['epochs'], help='ST-GCN training epochs')
    parser.add_argument('--work', default=os.path.join(tempfile.gettempdir(), 'dense_sample'),
                        help='working folder (replaced)')
    parser.add_argument('--out', default=os.path.join(tempfile.gettempdir(), 'dense_sample.json'),
                        help='JSON file for the results')
    args = parser.parse_args(argv)
    if args.recordings < 2:
        parser.error('--recordings must be 2 or more: one to test, the others to train')
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rl.quiet_logging()
    shutil.rmtree(args.work, ignore_errors=True)
    rl.STGCN['epochs'] = args.epochs
    started = time.perf_counter()
    results = run(args.work, args.recordings, args.seconds, args.methods, args.seeds)
    results['total_seconds'] = time.perf_counter() - started
    with atomic_write(os.path.abspath(args.out), 'w') as handle:
        json.dump(results, handle, indent=1)
    print(rl.table(results))
    print(f'\n{results["total_seconds"]:.0f} s; wrote {args.out}')
    return 0


if __name__ == '__main__':
    run_cli(main)
