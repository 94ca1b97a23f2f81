"""Split csv2json clips into the train/val layout of the Kinetics-skeleton feeder.

The split is stratified by class, seeded, and grouped by source recording: every clip (and every
augmented copy) of one recording goes to the same split, so validation never sees a recording
that was trained on. Writes ``<out>/kinetics_train/``, ``<out>/kinetics_val/``,
``<out>/kinetics_train_label.json``, ``<out>/kinetics_val_label.json`` and ``<out>/classes.txt``.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Sequence  # noqa: E402

from tqdm import tqdm  # noqa: E402

from feeder import kinetics_json  # noqa: E402
from torchlight import HelpFormatter, atomic_write, closest, run_cli  # noqa: E402

logger = logging.getLogger('gen_trainDataset')
SPLITS = ('train', 'val')


@dataclass
class Clip:
    name: str            # file name without .json
    path: str
    label: str
    label_index: int
    recording: str
    has_skeleton: bool


def read_clip(path: str) -> Clip:
    """A clip's label, index and recording, from its name and its JSON (which must agree)."""
    name = os.path.basename(path)[:-len('.json')]
    parts = kinetics_json.parse_clip_name(os.path.basename(path))
    data = kinetics_json.load_json(path)
    if not isinstance(data, dict) or 'label' not in data or 'label_index' not in data:
        raise ValueError(f'{path}: expected a Kinetics-skeleton clip with "label" and "label_index"')
    if data['label'] != parts['label']:
        raise ValueError(f'{path}: the file name says class {parts["label"]!r} but the JSON says '
                         f'{data["label"]!r}')
    frames = data.get('data') or []
    has_skeleton = any(any(s > 0 for person in frame.get('skeleton', []) for s in person.get('score', []))
                       for frame in frames)
    return Clip(name=name, path=path, label=data['label'], label_index=int(data['label_index']),
                recording=parts['recording'], has_skeleton=has_skeleton)


def collect_clips(input_dir: str, progress: bool = True) -> list[Clip]:
    """Every ``*.json`` clip of ``input_dir`` (classes.txt and other files are skipped)."""
    if not os.path.isdir(input_dir):
        raise FileNotFoundError(f'{input_dir}: --input is not a folder (expected csv2json output)')
    names = sorted(f for f in os.listdir(input_dir) if f.endswith('.json') and not f.startswith('.'))
    if not names:
        raise ValueError(f'{input_dir}: holds no .json clips (run tools/csv2json.py first)')
    clips = [read_clip(os.path.join(input_dir, n))
             for n in tqdm(names, desc='reading clips', unit='clip', disable=not progress)]
    index_of: dict[str, int] = {}
    for clip in clips:
        known = index_of.setdefault(clip.label, clip.label_index)
        if known != clip.label_index:
            raise ValueError(f'{clip.path}: class {clip.label!r} has label_index {clip.label_index} '
                             f'but other clips give it {known}; convert all clips with one --classes')
    return clips


def split_recordings(clips: Sequence[Clip], train_ratio: float = 0.8, seed: int = 0
                     ) -> dict[str, str]:
    """Map each recording to 'train' or 'val'.

    Recordings are grouped by their main class (the class of most of their clips); within each
    class, a seeded shuffle sends round(n * (1 - train_ratio)) recordings to val, at least one to
    each split when the class has two or more recordings and 0 < train_ratio < 1.
    """
    if not 0 < train_ratio <= 1:
        raise ValueError(f'--train_ratio must lie in (0, 1], got {train_ratio}')
    per_recording: dict[str, Counter] = defaultdict(Counter)
    for clip in clips:
        per_recording[clip.recording][clip.label] += 1
    by_class: dict[str, list[str]] = defaultdict(list)
    for recording, counts in sorted(per_recording.items()):
        main = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        by_class[main].append(recording)
    rng = random.Random(seed)
    assignment: dict[str, str] = {}
    for label in sorted(by_class):
        recordings = sorted(by_class[label])
        rng.shuffle(recordings)
        n = len(recordings)
        n_val = int(round(n * (1 - train_ratio)))
        if train_ratio < 1 and n >= 2:
            n_val = min(max(n_val, 1), n - 1)
        for k, recording in enumerate(recordings):
            assignment[recording] = 'val' if k < n_val else 'train'
    return assignment


def _link_or_copy(src: str, dst: str) -> None:
    try:
        if os.path.exists(dst):
            os.unlink(dst)
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _check_output(output: str, input_dir: str, force: bool) -> None:
    if os.path.abspath(output) == os.path.abspath(input_dir):
        raise ValueError(f'--output {output} is the --input folder; choose another folder')
    if os.path.isdir(output) and os.listdir(output):
        if not force:
            raise FileExistsError(f'{output}: output folder is not empty; pass --force to replace its '
                                  'kinetics_train/, kinetics_val/ and label files')
        for split in SPLITS:
            folder = os.path.join(output, f'kinetics_{split}')
            if os.path.isdir(folder):
                shutil.rmtree(folder)
    elif os.path.exists(output) and not os.path.isdir(output):
        raise NotADirectoryError(f'{output}: --output exists and is not a folder')


def assign_recordings(clips: Sequence[Clip], val_recordings: Sequence[str]) -> dict[str, str]:
    """Map each recording to 'val' when it is named in ``val_recordings`` (the recording name, as in the clip
    names), else to 'train'; a name that is no recording is a ValueError listing them."""
    recordings = sorted({clip.recording for clip in clips})
    unknown = [name for name in val_recordings if name not in recordings]
    if unknown:
        raise ValueError(f'--val_recordings {unknown[0]!r} is not a recording of the clips{closest(unknown[0], recordings)}'
                         f'; the recordings are {", ".join(recordings)}')
    return {recording: 'val' if recording in val_recordings else 'train' for recording in recordings}


def make_dataset(input_dir: str, output: str, train_ratio: float = 0.8, seed: int = 0,
                 force: bool = False, progress: bool = True,
                 val_recordings: Sequence[str] | None = None) -> dict[str, dict[str, dict]]:
    """Split, place and label the clips; return ``{'train': labels, 'val': labels}``. With ``val_recordings``
    those recordings are the validation split and the others the training split."""
    _check_output(output, input_dir, force)
    clips = collect_clips(input_dir, progress)
    assignment = (assign_recordings(clips, val_recordings) if val_recordings
                  else split_recordings(clips, train_ratio, seed))
    labels: dict[str, dict[str, dict]] = {split: {} for split in SPLITS}
    for split in SPLITS:
        os.makedirs(os.path.join(output, f'kinetics_{split}'), exist_ok=True)
    for clip in tqdm(clips, desc='placing clips', unit='clip', disable=not progress):
        split = assignment[clip.recording]
        _link_or_copy(clip.path, os.path.join(output, f'kinetics_{split}', clip.name + '.json'))
        labels[split][clip.name] = {'has_skeleton': clip.has_skeleton, 'label': clip.label,
                                    'label_index': clip.label_index}
    for split in SPLITS:
        with atomic_write(os.path.join(output, f'kinetics_{split}_label.json'), 'w') as handle:
            json.dump(labels[split], handle, indent=1, sort_keys=True)
    classes_src = os.path.join(input_dir, 'classes.txt')
    if os.path.isfile(classes_src):
        classes = kinetics_json.read_classes(classes_src)
    else:
        order = sorted({(c.label_index, c.label) for c in clips})
        classes = [label for _, label in order]
        logger.warning('%s: no classes.txt; writing one from the clips\' label_index', input_dir)
    with atomic_write(os.path.join(output, 'classes.txt'), 'w') as handle:
        handle.write(''.join(c + '\n' for c in classes))
    _warn_single_split(clips, assignment)
    return labels


def _warn_single_split(clips: Sequence[Clip], assignment: dict[str, str]) -> None:
    recordings: dict[str, dict[str, set]] = defaultdict(lambda: {s: set() for s in SPLITS})
    for clip in clips:
        recordings[clip.label][assignment[clip.recording]].add(clip.recording)
    for label, per_split in sorted(recordings.items()):
        missing = [s for s in SPLITS if not per_split[s]]
        if missing:
            total = len(per_split['train'] | per_split['val'])
            logger.warning('class %r has %d recording(s): it is absent from %s (each split needs a '
                           'whole recording of it)', label, total, ' and '.join(missing))


def count_table(labels: dict[str, dict[str, dict]]) -> str:
    """Clips per class and split, as a small text table."""
    classes = sorted({(v['label_index'], v['label']) for split in labels.values() for v in split.values()})
    rows = [('class', 'index') + tuple(SPLITS)]
    for index, label in classes:
        rows.append((label, str(index)) + tuple(
            str(sum(1 for v in labels[s].values() if v['label'] == label)) for s in SPLITS))
    rows.append(('total', '') + tuple(str(len(labels[s])) for s in SPLITS))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return '\n'.join('  '.join(cell.ljust(w) if c == 0 else cell.rjust(w)
                               for c, (cell, w) in enumerate(zip(row, widths))) for row in rows)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='gen_trainDataset.py',
        description='Split csv2json clips into train/val (stratified by class, grouped by source '
                    'recording, seeded) in the Kinetics-skeleton layout.',
        formatter_class=HelpFormatter)
    parser.add_argument('--input', required=True, metavar='DIR', help='folder of csv2json clips')
    parser.add_argument('--output', required=True, metavar='DIR',
                        help='dataset folder (e.g. data/dlc-skeleton); must be empty unless --force')
    parser.add_argument('--train_ratio', type=float, default=0.8,
                        help='fraction of each class\'s recordings put in train, in (0, 1]')
    parser.add_argument('--seed', type=int, default=0, help='random seed of the split')
    parser.add_argument('--val_recordings', nargs='+', metavar='NAME',
                        help='put these recordings (names as in the clip names: the pose file names without '
                             'extension) in val and every other in train, instead of a seeded split')
    parser.add_argument('--force', action='store_true',
                        help='write into a non-empty --output, replacing its previous split')
    parser.add_argument('--log_level', default='INFO', choices=['DEBUG', 'INFO', 'WARNING', 'ERROR'],
                        help='logging verbosity')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format='%(levelname)s %(name)s: %(message)s')
    labels = make_dataset(args.input, args.output, args.train_ratio, args.seed, args.force,
                          val_recordings=args.val_recordings)
    print(count_table(labels))
    print(f'wrote {args.output}/kinetics_train/, kinetics_val/, kinetics_train_label.json, '
          'kinetics_val_label.json, classes.txt')
    return 0


if __name__ == '__main__':
    run_cli(main)
