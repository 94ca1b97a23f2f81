"""Convert NTU RGB+D ``.skeleton`` files into the cross-subject and cross-view benchmarks.

Writes ``<out_folder>/<benchmark>/<part>_data.npy`` (float32, (N, 3, max_frame, 25, 2): x, y, z
of each joint of at most two bodies) and ``<part>_label.pkl`` (``(sample_names, labels)``) for
benchmark ``xsub`` (training subjects below) and ``xview`` (training cameras 2 and 3), parts
``train`` and ``val``, as the NTU RGB+D paper defines them. Samples listed in the ignored-sample
file (those with missing skeletons) are left out.

The ``.skeleton`` text format: the number of frames; per frame the number of bodies; per body a
line of 10 body values, the number of joints, and per joint a line of 12 values
``x y z depthX depthY colorX colorY orientationW orientationX orientationY orientationZ
trackingState``. File names ``SsssCcccPpppRrrrAaaa`` give setup, camera, performer,
replication and action (label = action - 1).
"""
from __future__ import annotations

import argparse
import functools
import logging
import os
import re
import sys
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from feeder.gendata_utils import default_num_workers, fill_npy_parallel  # noqa: E402
from torchlight import run_cli, save_pickle  # noqa: E402

logger = logging.getLogger('ntu_gendata')

TRAINING_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
TRAINING_CAMERAS = (2, 3)
BENCHMARKS = ('xsub', 'xview')
PARTS = ('train', 'val')
MAX_BODY = 2
NUM_JOINT = 25
MAX_FRAME = 300
SUFFIX = '.skeleton'
BODY_VALUES = 10
JOINT_VALUES = 12
DEFAULT_IGNORED = os.path.join('resource', 'NTU-RGB-D', 'samples_with_missing_skeletons.txt')

_NAME = re.compile(r'S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})')


def parse_name(filename: str) -> dict[str, int]:
    """setup, camera, performer (subject), replication and action of ``SsssCcccPpppRrrrAaaa[.skeleton]``."""
    match = _NAME.search(os.path.basename(filename))
    if match is None:
        raise ValueError(f'{filename}: not an NTU RGB+D sample name (expected SsssCcccPpppRrrrAaaa.skeleton, '
                         'e.g. S001C002P003R002A013.skeleton)')
    setup, camera, performer, replication, action = (int(group) for group in match.groups())
    return {'setup': setup, 'camera': camera, 'performer': performer, 'replication': replication,
            'action': action}


def read_ignored_samples(path: str | None) -> set[str]:
    """The sample names (without ``.skeleton``) in the ignored-sample file; empty for None/''."""
    if not path:
        return set()
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such ignored-sample file (pass --ignored_sample_path "" for none)')
    with open(path, encoding='utf-8') as handle:
        return {line.strip() for line in handle if line.strip()}


def select_samples(filenames: list[str], ignored: set[str], benchmark: str,
                   part: str) -> tuple[list[str], list[int]]:
    """(file names, labels) of one benchmark part, sorted by name, ignored samples left out."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f'benchmark {benchmark!r} is not one of {", ".join(BENCHMARKS)}')
    if part not in PARTS:
        raise ValueError(f'part {part!r} is not one of {", ".join(PARTS)}')
    names: list[str] = []
    labels: list[int] = []
    for filename in sorted(filenames):
        if not filename.endswith(SUFFIX) or filename[:-len(SUFFIX)] in ignored:
            continue
        info = parse_name(filename)
        if benchmark == 'xview':
            is_training = info['camera'] in TRAINING_CAMERAS
        else:
            is_training = info['performer'] in TRAINING_SUBJECTS
        if is_training == (part == 'train'):
            names.append(filename)
            labels.append(info['action'] - 1)
    return names, labels


def read_xyz(path: str, max_frame: int = MAX_FRAME, max_body: int = MAX_BODY,
             num_joint: int = NUM_JOINT) -> np.ndarray:
    """x, y, z of a ``.skeleton`` file as float32 (3, max_frame, num_joint, max_body), zeros beyond its end.

    Bodies past ``max_body`` and joints past ``num_joint`` are skipped, as in the original.
    Raises ValueError naming the file and line for a malformed or truncated file, or a file
    with more than ``max_frame`` frames.
    """
    with open(path, encoding='utf-8') as handle:
        lines = handle.read().splitlines()

    def count(i: int, what: str) -> int:
        if i >= len(lines):
            raise ValueError(f'{path}: the file ends at line {len(lines)}, expected {what} on line {i + 1}')
        try:
            value = int(lines[i])
        except ValueError:
            raise ValueError(f'{path}: line {i + 1}: expected {what}, got {lines[i].strip()!r}') from None
        if value < 0:
            raise ValueError(f'{path}: line {i + 1}: {what} is negative ({value})')
        return value

    num_frame = count(0, 'the number of frames')
    if num_frame > max_frame:
        raise ValueError(f'{path}: {num_frame} frames, more than max_frame={max_frame} (raise --max_frame)')
    i = 1
    starts: list[int] = []   # first joint line of each kept body
    kept: list[int] = []     # joints kept of each kept body
    frames: list[int] = []
    bodies: list[int] = []
    for t in range(num_frame):
        num_body = count(i, f'the number of bodies of frame {t}')
        i += 1
        for m in range(num_body):
            i += 1  # the body-info line
            num_joint_b = count(i, f'the number of joints of body {m} in frame {t}')
            i += 1
            if m < max_body:
                starts.append(i)
                kept.append(min(num_joint_b, num_joint))
                frames.append(t)
                bodies.append(m)
            i += num_joint_b
            if i > len(lines):
                raise ValueError(f'{path}: the file ends at line {len(lines)} inside body {m} of frame {t}')

    data = np.zeros((3, max_frame, num_joint, max_body), dtype=np.float64)
    if starts:
        joint_lines = [line for start, k in zip(starts, kept) for line in lines[start:start + k]]
        tokens = ' '.join(joint_lines).split()
        if len(tokens) != JOINT_VALUES * len(joint_lines):
            for start, k in zip(starts, kept):
                for j in range(start, start + k):
                    if len(lines[j].split()) != JOINT_VALUES:
                        raise ValueError(f'{path}: line {j + 1}: expected {JOINT_VALUES} joint values, '
                                         f'got {len(lines[j].split())}')
        try:
            values = np.array(tokens, dtype=np.float64).reshape(-1, JOINT_VALUES)  # (joints, 12)
        except ValueError:
            raise ValueError(f'{path}: a joint line holds a non-numeric value') from None
        kept_arr = np.asarray(kept)
        t_idx = np.repeat(frames, kept_arr)
        m_idx = np.repeat(bodies, kept_arr)
        j_idx = np.concatenate([np.arange(k) for k in kept])
        data[:, t_idx, j_idx, m_idx] = values[:, :3].T  # x, y, z
    return data.astype(np.float32)


def _read_sample(item: tuple[str, int], max_frame: int) -> tuple[np.ndarray, int]:
    path, label = item
    return read_xyz(path, max_frame=max_frame), label


def gendata(data_path: str, out_path: str, ignored_sample_path: str | None = None,
            benchmark: str = 'xview', part: str = 'val', max_frame: int = MAX_FRAME,
            num_workers: int | None = None) -> tuple[list[str], list[int]]:
    """Write ``<out_path>/<part>_data.npy`` and ``<part>_label.pkl`` of one benchmark part.

    Returns ``(sample_names, labels)``. The ``.npy`` goes through a memory map on a temporary
    file, renamed over the output when complete; the ``.pkl`` is written atomically after it.
    """
    if not os.path.isdir(data_path):
        raise FileNotFoundError(f'{data_path}: no such folder of .skeleton files')
    num_workers = default_num_workers() if num_workers is None else num_workers
    if num_workers < 1:
        raise ValueError(f'num_workers must be >= 1, got {num_workers}')
    ignored = read_ignored_samples(ignored_sample_path)
    names, labels = select_samples(os.listdir(data_path), ignored, benchmark, part)
    if not names:
        raise ValueError(f'{data_path}: no .skeleton files in the {benchmark} {part} part')
    items = [(os.path.join(data_path, name), label) for name, label in zip(names, labels)]
    logger.info('%s %s: %d samples, %d worker(s)', benchmark, part, len(items), num_workers)
    start = time.perf_counter()
    fill_npy_parallel(os.path.join(out_path, f'{part}_data.npy'), items,
                      functools.partial(_read_sample, max_frame=max_frame),
                      (3, max_frame, NUM_JOINT, MAX_BODY), num_workers=num_workers, desc=f'{benchmark} {part}')
    elapsed = time.perf_counter() - start
    save_pickle(os.path.join(out_path, f'{part}_label.pkl'), (names, labels))
    logger.info('%s %s: %.1f samples/s', benchmark, part, len(items) / max(elapsed, 1e-9))
    return names, labels


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='NTU RGB+D .skeleton files -> xsub/ and xview/ {train,val}_data.npy + _label.pkl')
    parser.add_argument('--data_path', default='data/NTU-RGB-D/nturgb+d_skeletons',
                        help='folder of .skeleton files')
    parser.add_argument('--ignored_sample_path', default=None,
                        help=f'file of sample names to leave out, one per line (default: {DEFAULT_IGNORED} '
                             'of this repository; "" for none)')
    parser.add_argument('--out_folder', default='data/NTU-RGB-D', help='folder for xsub/ and xview/')
    parser.add_argument('--benchmark', nargs='+', default=list(BENCHMARKS), choices=BENCHMARKS,
                        help='benchmarks to write (default: xsub xview)')
    parser.add_argument('--part', nargs='+', default=list(PARTS), choices=PARTS,
                        help='parts to write (default: train val)')
    parser.add_argument('--max_frame', type=int, default=MAX_FRAME, help='T: frames per sample (default 300)')
    parser.add_argument('--num_workers', type=int, default=None,
                        help='worker processes (default: the number of CPUs)')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    ignored = args.ignored_sample_path
    if ignored is None:
        ignored = os.path.join(REPO_ROOT, DEFAULT_IGNORED)
    for benchmark in args.benchmark:
        for part in args.part:
            gendata(args.data_path, os.path.join(args.out_folder, benchmark), ignored, benchmark, part,
                    max_frame=args.max_frame, num_workers=args.num_workers)
    return 0


if __name__ == '__main__':
    run_cli(main)
