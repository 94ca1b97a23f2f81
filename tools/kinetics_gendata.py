"""Convert Kinetics-skeleton JSON clips into the (N, C, T, V, M) ``.npy`` + label ``.pkl`` the Feeder reads.

For each split (train, val) it reads ``<data_path>/kinetics_<split>/*.json`` and
``<data_path>/kinetics_<split>_label.json`` and writes ``<out_folder>/<split>_data.npy``
(float32, (N, 3, max_frame, V, num_person_out)) and ``<out_folder>/<split>_label.pkl``
(``(sample_names, labels)``), ``<out_folder>/<split>_frame_label.npy`` (int16 (N, max_frame), the class of
every frame, -1 unlabelled or past the clip's end) when the clips carry per-frame labels (csv2json clips of
annotated recordings), and ``<out_folder>/<split>_meta.json``: what the clips say about
their preprocessing (bodyparts, pcutoff, max_gap, frame size, fps; see
``feeder.model_input.InputSpec``) and the class names of ``<data_path>/classes.txt``, which
training stores in its model files. V is read from the clips; clips with ``has_skeleton: false``
are left out, as in the original. Works for the published Kinetics-skeleton (V=18) and for
the DeepLabCut clips written by ``tools/csv2json.py`` alike.
"""
from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from feeder import model_input  # noqa: E402
from feeder.gendata_utils import default_num_workers, fill_npy_parallel  # noqa: E402
from feeder.kinetics_json import (check_person_counts, find_num_joints, labelled_clips,  # noqa: E402
                                  read_classes, read_labelled_clip)
from torchlight import atomic_write, run_cli, save_pickle  # noqa: E402

logger = logging.getLogger('kinetics_gendata')

SPLITS = ('train', 'val')


def gendata(data_path: str, label_path: str, data_out_path: str, label_out_path: str,
            max_frame: int = 300, num_person_in: int = 5, num_person_out: int = 2,
            num_workers: int | None = None, class_names: list[str] | None = None) -> tuple[list[str], list[int]]:
    """Convert one split; returns ``(sample_names, labels)`` as written to ``label_out_path``.

    The ``.npy`` is filled through a memory map on a temporary file and renamed over
    ``data_out_path`` only when complete; the ``.pkl`` and the ``_meta.json`` beside the
    ``.npy`` (:func:`data_spec`) are then written atomically.
    Raises ValueError naming the clip when clips disagree on the joint count V, a clip is
    malformed, or its label_index differs from the label file.
    """
    check_person_counts(num_person_in, num_person_out)
    if max_frame < 1:
        raise ValueError(f'max_frame must be >= 1, got {max_frame}')
    num_workers = default_num_workers() if num_workers is None else num_workers
    if num_workers < 1:
        raise ValueError(f'num_workers must be >= 1, got {num_workers}')

    sample_names, labels = labelled_clips(data_path, label_path, ignore_empty_sample=True)
    if not sample_names:
        raise ValueError(f'{data_path}: no clips to convert (none listed with a skeleton in {label_path})')
    paths = [os.path.join(data_path, name) for name in sample_names]
    V = find_num_joints(paths)
    logger.info('%s: %d clips, T=%d frames, V=%d joints, M=%d persons, %d worker(s)',
                data_path, len(paths), max_frame, V, num_person_out, num_workers)

    reader = functools.partial(read_labelled_clip, max_frame=max_frame, num_person_in=num_person_in,
                               num_person_out=num_person_out, V=V)
    start = time.perf_counter()
    written_labels = fill_npy_parallel(data_out_path, list(zip(paths, labels)), reader,
                                       (3, max_frame, V, num_person_out), num_workers=num_workers,
                                       desc=os.path.basename(os.path.normpath(data_path)))
    elapsed = time.perf_counter() - start
    labels = [int(label) for label, *_ in written_labels]
    save_pickle(label_out_path, (list(sample_names), labels))
    if any(has_frame_labels for *_, has_frame_labels in written_labels):  # annotated recordings: per-frame labels
        frame_labels = np.stack([frames for _, _, frames, _ in written_labels])       # (N, max_frame)
        with atomic_write(model_input.companion_path(data_out_path, '_frame_label.npy'), 'wb') as handle:
            np.save(handle, frame_labels)
    spec = data_spec([options for _, options, *_ in written_labels], max_frame, num_person_out, class_names)
    model_input.write_meta(model_input.meta_path(data_out_path), spec)
    logger.info('wrote %s and %s (%.1f clips/s)', data_out_path, label_out_path,
                len(paths) / max(elapsed, 1e-9))
    return list(sample_names), labels


def data_spec(clip_options: list[dict], max_frame: int, num_person_out: int,
              class_names: list[str] | None) -> model_input.InputSpec:
    """The data's part of the input spec from the clips' own records (``clip_input_options``): each field is
    the value every clip shares, or the default (None where it varies, e.g. per-recording frame sizes)."""
    def shared(key: str, default=None):
        values = [options.get(key) for options in clip_options]
        value = model_input.common_value(values)
        return default if value is None else value
    defaults = model_input.InputSpec()
    return model_input.InputSpec(bodyparts=shared('bodyparts'), rename=shared('rename', {}),
                                 pcutoff=shared('pcutoff', defaults.pcutoff),
                                 max_gap=shared('max_gap', 0), frame_size=shared('frame_size'), fps=shared('fps'),
                                 single=shared('single', defaults.single), clip_len=max_frame,
                                 num_person=num_person_out, class_names=class_names,
                                 background=shared('background'), mean_bout=shared('mean_bout'),
                                 aspect=shared('aspect'))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Kinetics-skeleton (or csv2json DLC) JSON clips -> <split>_data.npy + <split>_label.pkl + '
                    '<split>_meta.json')
    parser.add_argument('--data_path', default='data/Kinetics/kinetics-skeleton',
                        help='folder holding kinetics_<split>/ and kinetics_<split>_label.json')
    parser.add_argument('--out_folder', default='data/Kinetics/kinetics-skeleton',
                        help='folder for <split>_data.npy, <split>_label.pkl and <split>_meta.json')
    parser.add_argument('--split', nargs='+', default=list(SPLITS), choices=SPLITS,
                        help='splits to convert (default: train val)')
    parser.add_argument('--max_frame', type=int, default=300, help='T: frames per clip (default 300)')
    parser.add_argument('--num_person_in', type=int, default=5,
                        help='skeletons read per frame (default 5)')
    parser.add_argument('--num_person_out', type=int, default=2,
                        help='persons kept per frame, the highest-scoring (default 2)')
    parser.add_argument('--num_workers', type=int, default=None,
                        help='worker processes (default: the number of CPUs)')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    present = [split for split in args.split
               if os.path.isdir(os.path.join(args.data_path, f'kinetics_{split}'))]
    if not present:
        expected = ', '.join(os.path.join(args.data_path, f'kinetics_{split}') for split in args.split)
        raise FileNotFoundError(f'no clip folder found: expected {expected}')
    for split in args.split:
        if split not in present:
            logger.warning('%s: no such folder; skipping the %s split',
                           os.path.join(args.data_path, f'kinetics_{split}'), split)
    classes_path = os.path.join(args.data_path, 'classes.txt')
    class_names = read_classes(classes_path) if os.path.isfile(classes_path) else None
    for split in present:
        label_path = os.path.join(args.data_path, f'kinetics_{split}_label.json')
        if not os.path.isfile(label_path):
            raise FileNotFoundError(f'{label_path}: no such label file for the {split} split')
        gendata(os.path.join(args.data_path, f'kinetics_{split}'), label_path,
                os.path.join(args.out_folder, f'{split}_data.npy'),
                os.path.join(args.out_folder, f'{split}_label.pkl'),
                max_frame=args.max_frame, num_person_in=args.num_person_in,
                num_person_out=args.num_person_out, num_workers=args.num_workers, class_names=class_names)
    return 0


if __name__ == '__main__':
    run_cli(main)
