"""Score ethograms made earlier by ``main.py demo`` against human labels.

    python tools/evaluate_ethogram.py --pred work_dir/demo/ --annotations labels/ [--out eval/]
                                      [--smooth hmm --min_bout 15] [--background other] [--fps 30]

``--pred`` takes ethogram.csv files or folders (a demo work_dir holds ``<recording>/ethogram.csv``); each is
matched to its annotation by the recording's name (the folder the ethogram.csv is in), as csv2json matches pose
files. Writes, per recording, evaluation.json, evaluation_per_class.csv, confusion_matrix.csv/.png and
timeline.png to ``<out>/<recording>/``, and the pooled evaluation of all of them to ``<out>/``; prints one summary
line per recording and a pooled one. ``--smooth`` re-decodes the labels from the ethogram's probabilities first,
to compare smoothings without labelling again.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import csv  # noqa: E402
import logging  # noqa: E402
from typing import Sequence  # noqa: E402

import numpy as np  # noqa: E402

from feeder import annotations  # noqa: E402
from processor import evaluation  # noqa: E402
from torchlight import HelpFormatter, run_cli  # noqa: E402

logger = logging.getLogger('evaluate_ethogram')
PROB_PREFIX = 'p_'


def ethogram_files(paths: Sequence[str]) -> list[str]:
    """The ethogram.csv files named in ``paths`` or found in their folders (one level of subfolders)."""
    files: list[str] = []
    for path in paths:
        if os.path.isfile(path):
            files.append(path)
        elif os.path.isdir(path):
            found = [os.path.join(path, 'ethogram.csv')] if os.path.isfile(os.path.join(path, 'ethogram.csv')) else []
            found += sorted(os.path.join(path, d, 'ethogram.csv') for d in os.listdir(path)
                            if os.path.isfile(os.path.join(path, d, 'ethogram.csv')))
            if not found:
                raise FileNotFoundError(f'{path}: no ethogram.csv in this folder or its subfolders (--pred)')
            files.extend(found)
        else:
            raise FileNotFoundError(f'{path}: no such ethogram.csv or folder (--pred)')
    return files


def read_ethogram(path: str) -> tuple[list[str], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """(class names, {individual: (labels (T,), probabilities (T, K))}) of a demo ethogram.csv."""
    with open(path, newline='', encoding='utf-8') as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0]) if rows else []
    names = [column[len(PROB_PREFIX):] for column in header if column.startswith(PROB_PREFIX)]
    missing = [c for c in ('frame', 'individual', 'label') if c not in header]
    if missing or not names:
        raise ValueError(f'{path}: not an ethogram.csv of main.py demo (needs frame, individual, label and p_<class> '
                         'columns)')
    index = {name: k for k, name in enumerate(names)}
    tracks: dict[str, tuple[list[int], list[list[float]]]] = {}
    for line, row in enumerate(rows, start=2):
        labels, probs = tracks.setdefault(row['individual'], ([], []))
        if int(row['frame']) != len(labels):
            raise ValueError(f'{path}: line {line}: frame {row["frame"]} out of order for {row["individual"]}')
        if row['label'] not in index:
            raise ValueError(f'{path}: line {line}: label {row["label"]!r} is not one of {", ".join(names)}')
        labels.append(index[row['label']])
        probs.append([float(row[PROB_PREFIX + name]) for name in names])
    return names, {ind: (np.array(l, dtype=np.int64), np.array(p)) for ind, (l, p) in tracks.items()}


def evaluate_files(pred: Sequence[str], annotation_paths: Sequence[str], out: str, background: str | None = None,
                   fps: float | None = None, stream: str | None = None, rater: str | None = None,
                   smooth: str = 'none', min_bout: int = 1) -> list[str]:
    """Score every ethogram of ``pred`` that has an annotation; returns the summary lines (pooled last)."""
    files = ethogram_files(pred)
    by_name = {os.path.basename(os.path.dirname(os.path.abspath(f))) + '.csv': f for f in files}
    pairs, problems = annotations.pair_annotations(annotation_paths, lambda: list(by_name), fps, stream, rater)
    for problem in problems:
        logger.warning('%s', problem)
    lines: list[str] = []
    scored = []
    class_names: list[str] | None = None
    for pose_name, annotation in pairs:
        stem = os.path.splitext(os.path.basename(pose_name))[0]
        path = by_name.get(os.path.basename(pose_name)) or by_name.get(stem + '.csv')
        if path is None:
            logger.warning('%s: names pose file %s, for which no ethogram.csv was given', annotation.source, pose_name)
            continue
        names, tracks = read_ethogram(path)
        if class_names is not None and names != class_names:
            raise ValueError(f'{path}: classes {", ".join(names)} differ from the other ethograms\' '
                             f'{", ".join(class_names)}')
        class_names = names
        if background is not None and background not in names:
            raise ValueError(f'--background {background!r} is not one of the ethogram\'s classes ({", ".join(names)})')
        num_frames = len(next(iter(tracks.values()))[0])
        true, report = annotations.frame_labels(annotation, num_frames, names, background)
        notes = annotations.describe_report(report)
        if notes:
            logger.warning('%s (labels %s): %s', stem, annotation.source, notes)
        decoded = [(individual, labels if smooth == 'none' else
                    evaluation.smooth(probs, smooth, window=min_bout | 1, min_bout=min_bout))
                   for individual, (labels, probs) in tracks.items()]
        for entry in evaluation.score_tracks(stem, decoded, true, names, os.path.join(out, stem), fps):
            scored.append(entry)
            lines.append(entry[-1])
    if not scored:
        raise ValueError('no ethogram matched an annotation: ' + ('; '.join(problems) or 'nothing matched'))
    if len(scored) > 1:
        lines.append(evaluation.write_pooled(scored, class_names, out))
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='evaluate_ethogram.py', description=__doc__.split('\n')[0],
                                     formatter_class=HelpFormatter)
    parser.add_argument('--pred', nargs='+', required=True, metavar='PATH',
                        help='ethogram.csv files of main.py demo, or folders holding <recording>/ethogram.csv')
    parser.add_argument('--annotations', nargs='+', required=True, metavar='PATH',
                        help='human labels (files or folders; any format csv2json reads), matched by recording name')
    parser.add_argument('--out', default='evaluation', metavar='DIR', help='folder for the evaluation files')
    parser.add_argument('--background', default=None,
                        help='the class of the frames outside every bout (default: such frames are not scored)')
    parser.add_argument('--fps', type=float, default=None, help='frame rate, for annotations in seconds')
    parser.add_argument('--stream', default=None, help='Caltech annotator files: the stream to score against')
    parser.add_argument('--rater', default=None, help='bouts with a rater column: whose bouts are the truth')
    parser.add_argument('--smooth', default='none', choices=['none', 'median', 'hmm'],
                        help='re-decode the labels from the probabilities first (as main.py demo --smooth)')
    parser.add_argument('--min_bout', default=None,
                        help='frames (or seconds with --fps: 0.5s): the median window, or the expected bout length of '
                             '--smooth hmm; needed with --smooth')
    parser.add_argument('--log_level', default='INFO', choices=['DEBUG', 'INFO', 'WARNING', 'ERROR'],
                        help='logging verbosity')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format='%(levelname)s %(name)s: %(message)s')
    min_bout = 1
    if args.smooth != 'none':
        if args.min_bout is None:
            raise ValueError(f'--smooth {args.smooth} needs --min_bout (frames, or seconds with --fps, e.g. 0.5s)')
        min_bout = annotations.seconds_or_frames(args.min_bout, args.fps, '--min_bout')
        if min_bout < 2:
            raise ValueError(f'--min_bout {args.min_bout}: smoothing needs at least 2 frames')
    for line in evaluate_files(args.pred, args.annotations, args.out, args.background, args.fps, args.stream,
                               args.rater, args.smooth, min_bout):
        print(line)
    print(f'evaluation files in {args.out}/')
    return 0


if __name__ == '__main__':
    run_cli(main)
