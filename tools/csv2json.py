"""Convert DeepLabCut / SLEAP pose files into Kinetics-skeleton JSON clips for ST-GCN.

Inputs (one of):
    --input csv_data/                  class folders: csv_data/<class>/*.csv|*.h5
    --input a.csv b.h5 dir/ --label L  every file (and every pose file in a folder) labelled L
    --input recordings/ --annotations labels/
                                       the labels a lab already has (BORIS, Caltech Behavior Annotator,
                                       SimBA targets, per-frame CSVs, bouts in seconds or frames; the
                                       format is read from each file's content, see feeder/annotations.py),
                                       matched to the recordings by name; the labelled bouts are cut into
                                       clips; --background L keeps the frames outside every bout as L

Output: one ``<class>__<recording>__<clip>[__aug<k>].json`` per clip and ``classes.txt`` in
--output. A file that cannot be converted is listed with the reason at the end and the exit
code is 1; the other files are still converted.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import csv  # noqa: E402
import logging  # noqa: E402
import zlib  # noqa: E402
import contextlib  # noqa: E402
from collections import deque  # noqa: E402
from concurrent.futures import Future, ThreadPoolExecutor, wait  # noqa: E402
import dataclasses  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Sequence  # noqa: E402

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from feeder import annotations, dlc_io, kinetics_json, model_input  # noqa: E402
from torchlight import HelpFormatter, atomic_write, closest, run_cli  # noqa: E402

logger = logging.getLogger('csv2json')

AUG_SCALE = (0.97, 1.03)     # random scale range of --augment copies
AUG_SHIFT_PX = (1.0, 3.0)    # random shift magnitude range (pixels, either sign) of --augment copies
WRITE_THREADS = 4            # concurrent atomic JSON writes (each waits on fsync, not on the CPU)
WRITE_BATCH = 16             # JSON files handed to a writer thread at once
CUTS = ('bouts', 'anywhere')  # where clips are cut from annotated recordings (see plan_clips)


@dataclass
class ConvertOptions:
    """Settings shared by every file of a batch (see ``csv2json.py -h`` for each)."""
    output: str
    width: float | None = None
    height: float | None = None
    video_dir: str | None = None
    pcutoff: float = 0.6
    clip_len: int = 300
    stride: int = 300
    augment: int = 0
    seed: int = 0
    bodyparts: list[str] | None = None
    rename: dict[str, str] = field(default_factory=dict)
    single: str = 'attach'
    max_gap: int = model_input.DEFAULT_MAX_GAP
    fps: float | None = None
    target_fps: float | None = None
    min_len: int = 1
    cut: str = 'bouts'
    background: str | None = None
    mean_bout: dict[str, float] | None = None

    def input_options(self, fps: float | None) -> dict:
        """The preprocessing options every clip records (its ``input`` entry). ``frame_size`` is the one given
        with --width/--height, else None: read per recording (video, pose file, coordinate range), so a model
        trained on these clips reads it per recording too."""
        given = [float(self.width), float(self.height)] if self.width is not None else None
        return {'pcutoff': self.pcutoff, 'max_gap': self.max_gap, 'fps': fps, 'single': self.single,
                'rename': dict(self.rename), 'background': self.background, 'mean_bout': self.mean_bout,
                'frame_size': given}

    def validate(self) -> None:
        if self.clip_len <= 0:
            raise ValueError(f'--clip_len must be a positive number of frames, got {self.clip_len}')
        if self.stride <= 0:
            raise ValueError(f'--stride must be a positive number of frames, got {self.stride}')
        if not 0 <= self.pcutoff <= 1:
            raise ValueError(f'--pcutoff must lie in [0, 1], got {self.pcutoff}')
        if self.augment < 0:
            raise ValueError(f'--augment must be 0 or more copies, got {self.augment}')
        if self.max_gap < 0:
            raise ValueError(f'--max_gap must be 0 or more frames, got {self.max_gap}')
        for name in ('fps', 'target_fps'):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f'--{name} must be positive, got {getattr(self, name)}')
        if self.min_len < 1:
            raise ValueError(f'--min_len must be at least 1 frame, got {self.min_len}')
        if self.cut not in CUTS:
            raise ValueError(f'--cut {self.cut!r}: choose {" or ".join(CUTS)}')
        if self.single not in dlc_io.SINGLE_MODES:
            raise ValueError(f'--single {self.single!r}: choose {" or ".join(dlc_io.SINGLE_MODES)}')
        if (self.width is None) != (self.height is None):
            raise ValueError('give both --width and --height (pixels), or neither')
        if self.width is not None and (self.width <= 0 or self.height <= 0):
            raise ValueError(f'--width/--height must be positive pixels, got {self.width}x{self.height}')
        if self.video_dir is not None and not os.path.isdir(self.video_dir):
            raise FileNotFoundError(f'{self.video_dir}: --video_dir is not a folder')


@dataclass
class Job:
    """One input file and what to cut out of it: the whole recording as ``label``, or the bouts of
    its ``annotation`` (with ``ConvertOptions.background`` for the frames outside them)."""
    path: str
    label: str | None = None
    annotation: annotations.Annotation | None = None

    @property
    def labels(self) -> list[str]:
        return [self.label] if self.annotation is None else self.annotation.labels


@dataclass
class BatchResult:
    converted: dict[str, list[str]] = field(default_factory=dict)   # file -> JSON files written
    refused: dict[str, str] = field(default_factory=dict)           # file -> reason

    @property
    def ok(self) -> bool:
        return not self.refused


# ------------------------------------------------------------------ one file
def _labels_and_segments(job: Job, recording: model_input.Recording, classes: Sequence[str],
                         background: str | None) -> tuple[np.ndarray | None, list[tuple[int, int, str]]]:
    """The per-frame class indices of the prepared frames (None for a whole-recording label) and the (first frame,
    last frame, class) runs to cut: the whole recording, or the annotation's bouts as per-frame labels (overlaps
    resolved in ``classes`` order, labels not in ``classes`` left out (-1), the frames outside every bout as
    ``background``; resampled with the poses), with one log line of what was clipped or left out."""
    if job.annotation is None:
        return None, [(0, len(recording.prepared.pose) - 1, job.label)]
    labels, report = annotations.frame_labels(job.annotation, recording.rec.num_frames, classes, background)
    notes = annotations.describe_report(report)
    if notes:
        logger.warning('%s (labels %s): %s', job.path, job.annotation.source, notes)
    if recording.resampled:
        labels = model_input.resample_labels(labels, recording.source_fps, recording.fps)
    return labels, [(bout.start, bout.end, bout.label) for bout in annotations.bouts_from_frames(labels, classes)]


def plan_clips(labels: np.ndarray | None, segments: list[tuple[int, int, str]], num_frames: int,
               classes: Sequence[str], opts: ConvertOptions, path: str) -> list[tuple[str, int, int, int]]:
    """(class, clip index, first frame, end frame exclusive) of every clip to write.

    ``--cut bouts``: windows inside each labelled run (``segments``). ``--cut anywhere`` (annotated recordings): windows
    over the whole recording, each named after the class of most of its labelled frames (windows without a
    labelled frame are left out); the clips keep every frame's own label, for the per-frame (dense) model.
    """
    plan: list[tuple[str, int, int, int]] = []
    counters: dict[str, int] = {}

    def add(label: str, start: int, end: int) -> None:
        index = counters.get(label, 0)
        counters[label] = index + 1
        plan.append((label, index, start, end))

    if opts.cut == 'anywhere' and labels is not None:
        for start, end in kinetics_json.clip_windows(num_frames, opts.clip_len, opts.stride, opts.min_len):
            window = labels[start:end]
            labelled = window[window >= 0]
            if len(labelled):
                add(classes[int(np.bincount(labelled).argmax())], start, end)
        return plan
    for seg_start, seg_end, label in segments:
        windows = kinetics_json.clip_windows(seg_end - seg_start + 1, opts.clip_len, opts.stride, opts.min_len)
        if not windows:
            logger.info('%s: frames %d-%d (%s) are fewer than --min_len %d; skipped', path, seg_start, seg_end,
                        label, opts.min_len)
        for start, end in windows:
            add(label, seg_start + start, seg_start + end)
    return plan


def _augment_xy(xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random scale (AUG_SCALE) and shift (AUG_SHIFT_PX, either sign) of (T, I, V, 2) pixels."""
    scale = rng.uniform(*AUG_SCALE)
    shift = rng.uniform(*AUG_SHIFT_PX, size=2) * rng.choice([-1.0, 1.0], size=2)
    return (xy * scale + shift).astype(np.float32)


def _write_texts(items: Sequence[tuple[str, str]]) -> None:
    """Write (path, text) pairs, each atomically."""
    for path, text in items:
        with atomic_write(path, 'w') as handle:
            handle.write(text)


def convert_file(job: Job, class_index: dict[str, int], opts: ConvertOptions,
                 writer: ThreadPoolExecutor | None = None) -> list[str]:
    """Convert one pose file into clip JSONs in ``opts.output``; return the paths written.

    ``writer``: a thread pool for the (atomic, fsync'ed) file writes, so that the waits for the
    disk overlap; the function returns once every file is written.
    Raises ValueError / FileNotFoundError (naming the file) when the file cannot be converted.
    """
    if writer is None:
        with ThreadPoolExecutor(max_workers=WRITE_THREADS) as own:
            return convert_file(job, class_index, opts, own)
    fps = opts.fps if opts.fps is not None else (job.annotation.fps if job.annotation is not None else None)
    recording = model_input.load_recording(job.path, opts.bodyparts, opts.single, opts.pcutoff, opts.max_gap,
                                           opts.width, opts.height, opts.video_dir, fps=fps,
                                           target_fps=opts.target_fps, rename=opts.rename)
    rec, prepared = recording.rec, recording.prepared
    (width, height), origin = recording.frame_size, recording.frame_size_origin
    pose, score = prepared.pose, prepared.score                                  # (T, I, V, 2), (T, I, V)
    frame_labels, segments = _labels_and_segments(job, recording, list(class_index), opts.background)
    plan = plan_clips(frame_labels, segments, len(pose), list(class_index), opts, job.path)
    counters = {label: index + 1 for label, index, _, _ in plan}
    if not plan:
        what = (f'the recording has {rec.num_frames} frames' if job.annotation is None
                else f'its {len(segments)} labelled bout(s) of the classes {", ".join(class_index)} are all')
        raise ValueError(f'{job.path}: no clip to write: {what} shorter than --min_len {opts.min_len} '
                         'frames' if segments else f'{job.path}: no clip to write: no frame has a label of the '
                         f'classes {", ".join(class_index)}')

    os.makedirs(opts.output, exist_ok=True)
    width_digits = max(4, len(str(max(counters.values()) - 1)))
    written: list[str] = []
    pending: deque[Future] = deque()
    batch: list[tuple[str, str]] = []

    def flush() -> None:
        if batch:
            pending.append(writer.submit(_write_texts, list(batch)))
            batch.clear()
        while len(pending) > 2 * WRITE_THREADS:     # bound the texts held in memory
            pending.popleft().result()

    def write(path: str, text: str) -> None:
        batch.append((path, text))
        written.append(path)
        if len(batch) >= WRITE_BATCH:               # one hand-over per batch, not per file
            flush()

    source_file = os.path.abspath(job.path)
    try:
        for label, index, start, end in plan:
            base = kinetics_json.clip_name(label, rec.name, index, width=width_digits)
            common = dict(label=label, label_index=class_index[label], bodyparts=rec.bodyparts,
                          frame_size_wh=(width, height), source_file=source_file,
                          recording=rec.name, individual_names=rec.individuals, start_frame=start,
                          input_options=opts.input_options(recording.fps),
                          frame_labels=None if frame_labels is None else frame_labels[start:end])
            text = kinetics_json.clip_to_json_text(pose[start:end], score[start:end], **common)
            write(os.path.join(opts.output, base + '.json'), text)
            if opts.augment:
                rng = np.random.default_rng([opts.seed, zlib.crc32(base.encode('utf-8'))])
                for k in range(1, opts.augment + 1):
                    xy = _augment_xy(prepared.xy[start:end], rng)              # (t, I, V, 2) pixels
                    aug_pose, aug_score = model_input.normalise_xy(xy, prepared.xy_score[start:end], width,
                                                                   height, opts.pcutoff, rec.source,
                                                                   warn_outside=False)
                    text = kinetics_json.clip_to_json_text(aug_pose, aug_score, **common)
                    write(os.path.join(opts.output, kinetics_json.clip_name(label, rec.name, index, k,
                                                                     width_digits) + '.json'), text)
        flush()
        while pending:
            pending.popleft().result()              # re-raises a failed write (e.g. a full disk)
    except BaseException:
        for future in pending:                      # leave no clips of a refused file behind
            future.cancel()
        wait(pending)
        for path in written:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        raise
    logger.info('%s: %d frames, %d individual(s), %d bodyparts, frame %gx%g (%s), %s -> %d JSON file(s)',
                job.path, rec.num_frames, len(rec.individuals), len(rec.bodyparts), width, height,
                origin, prepared.describe(), len(written))
    return written


def convert_batch(jobs: Sequence[Job], class_index: dict[str, int], opts: ConvertOptions,
                  progress: bool = True) -> BatchResult:
    """Convert every job; a file that fails is recorded in ``refused`` and the others go on."""
    opts.validate()
    result = BatchResult()
    seen: dict[tuple[str, str], str] = {}
    with ThreadPoolExecutor(max_workers=WRITE_THREADS) as writer:
        for job in tqdm(jobs, desc='csv2json', unit='file', disable=not progress):
            _convert_one(job, class_index, opts, writer, seen, result)
    return result


def _convert_one(job: Job, class_index: dict[str, int], opts: ConvertOptions,
                 writer: ThreadPoolExecutor, seen: dict[tuple[str, str], str],
                 result: BatchResult) -> None:
    labels = sorted(set(job.labels) | ({opts.background} if opts.background and job.annotation else set()))
    recording = os.path.splitext(os.path.basename(job.path))[0]
    clash = [seen[(label, recording)] for label in labels if (label, recording) in seen]
    if clash:
        result.refused[job.path] = (f'same recording name {recording!r} and class as {clash[0]}; '
                                    'its clips would overwrite those (rename one file)')
        return
    try:
        result.converted[job.path] = convert_file(job, class_index, opts, writer)
    except (ValueError, OSError, KeyError) as exc:
        reason = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
        result.refused[job.path] = reason
        logger.debug('refused %s', job.path, exc_info=True)
        return
    for label in labels:
        seen[(label, recording)] = job.path


# ------------------------------------------------------------------ gathering inputs
def _pose_files(folder: str) -> list[str]:
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if not f.startswith('.') and os.path.splitext(f)[1].lower() in dlc_io.POSE_EXTENSIONS
                  and os.path.isfile(os.path.join(folder, f)))


def jobs_from_class_folders(inputs: Sequence[str]) -> list[Job]:
    """Jobs from ``<input>/<class>/*.csv|*.h5`` folders (the class is the subfolder name)."""
    jobs = []
    for root in inputs:
        if not os.path.isdir(root):
            raise FileNotFoundError(f'{root}: not a folder; without --label, --input must be a folder '
                                    'of class subfolders (<input>/<class>/*.csv)')
        for entry in sorted(os.listdir(root)):
            folder = os.path.join(root, entry)
            if entry.startswith('.') or not os.path.isdir(folder):
                continue
            files = _pose_files(folder)
            if files:
                label = kinetics_json.check_label(entry, f'folder {folder}')
                jobs.extend(Job(path=f, label=label) for f in files)
        loose = _pose_files(root)
        if loose:
            logger.warning('%s: %d pose file(s) outside a class folder ignored (use --label to convert '
                           'them)', root, len(loose))
    if not jobs:
        raise ValueError(f'no class subfolders holding .csv/.h5 files in {", ".join(inputs)}; put files '
                         'in <input>/<class>/ or give --label NAME')
    return jobs


def jobs_from_label(inputs: Sequence[str], label: str) -> list[Job]:
    """Jobs for files (and the pose files of folders) all labelled ``label``."""
    label = kinetics_json.check_label(label, '--label')
    jobs = []
    for item in inputs:
        if os.path.isdir(item):
            files = _pose_files(item)
            if not files:
                raise ValueError(f'{item}: folder holds no .csv/.h5 files')
            jobs.extend(Job(path=f, label=label) for f in files)
        else:
            jobs.append(Job(path=item, label=label))   # a missing file is refused in the batch
    return jobs


def pose_files_of(inputs: Sequence[str]) -> list[str]:
    """The pose files named in ``inputs`` and those in its folders (not recursive)."""
    files: list[str] = []
    for item in inputs:
        if os.path.isdir(item):
            files.extend(_pose_files(item))
        elif not os.path.exists(item):
            raise FileNotFoundError(f'{item}: no such pose file or folder (--input)')
        else:
            files.append(item)
    return files


def jobs_from_annotations(paths: Sequence[str], inputs: Sequence[str] = (), fps: float | None = None,
                          stream: str | None = None, rater: str | None = None
                          ) -> tuple[list[Job], list[str]]:
    """Jobs for annotated recordings, and the problems found matching them (one line each); see
    :func:`feeder.annotations.pair_annotations`."""
    pairs, problems = annotations.pair_annotations(paths, lambda: pose_files_of(inputs) if inputs else None, fps,
                                                   stream, rater)
    return [Job(path=path, annotation=ann) for path, ann in pairs], problems


def resolve_classes(labels: Sequence[str], classes: Sequence[str] | None, output: str,
                    annotated: bool = False) -> list[str]:
    """Class order (label_index): ``classes`` (names, or one classes.txt file); else the output's
    existing classes.txt with new classes appended; else the sorted class names.

    Whole-file labels must be classes; annotation labels not among the classes are left out (and
    reported per recording), a name close to a class is a ValueError (a likely typo).
    """
    labels = sorted(set(labels))
    if classes:
        origin = '--classes'
        if len(classes) == 1 and os.path.isfile(classes[0]):
            origin = classes[0]
            classes = kinetics_json.read_classes(classes[0])
        else:
            classes = [kinetics_json.check_label(c, '--classes') for c in classes]
        unknown = [l for l in labels if l not in classes]
        if unknown and not annotated:
            raise ValueError(f'{origin}: does not list class(es) {", ".join(unknown)} '
                             f'(it lists {", ".join(classes)})')
        for label in unknown:
            hint = closest(label, classes)
            if hint:
                raise ValueError(f'the annotations label {label!r}, which is not in {origin}{hint}; '
                                 f'the classes are {", ".join(classes)}')
        if unknown:
            logger.info('annotation labels not in %s are left out: %s', origin, ', '.join(unknown))
        return list(classes)
    existing = os.path.join(output, 'classes.txt')
    if os.path.isfile(existing):
        classes = kinetics_json.read_classes(existing)
        new = [l for l in labels if l not in classes]
        if new:
            logger.warning('%s: appending new class(es) %s after the existing ones', existing,
                           ', '.join(new))
        return classes + new
    return labels


# ------------------------------------------------------------------ command line
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='csv2json.py',
        description='Convert DeepLabCut CSV/.h5 (single- or multi-animal), SLEAP (analysis .h5, .slp), NWB '
                    '(ndx-pose) and LightningPose pose files into Kinetics-skeleton JSON clips for ST-GCN.',
        formatter_class=HelpFormatter)
    src = parser.add_argument_group('input')
    src.add_argument('--input', nargs='+', metavar='PATH',
                     help='a folder of class subfolders (<input>/<class>/*.csv|*.h5); with --label or '
                          '--annotations, pose files or folders of them')
    src.add_argument('--label', metavar='NAME', help='class name for every --input file')
    src.add_argument('--annotations', nargs='+', metavar='PATH',
                     help='annotation files, or folders of them, matched to the --input recordings by name '
                          '(the video name, a DLC output\'s <video>DLC_... prefix, BORIS\'s media file; a '
                          'suffix such as _labels may follow; one recording with one file pairs directly). '
                          'Formats, read from the content: BORIS tabular events and aggregated exports, '
                          'Caltech Behavior Annotator .txt, SimBA 0/1 target columns, per-frame CSVs '
                          '(frame,label or frame,<behaviour> 0/1), bouts in seconds (start_s,end_s,label; '
                          'from,to,type), bouts in frames (file,start_frame,end_frame,label: frames from 0, '
                          'end inclusive, files relative to the CSV\'s folder)')
    src.add_argument('--background', metavar='LABEL',
                     help='with --annotations: also convert the frames outside every bout, as LABEL '
                          '(default: skip them)')
    src.add_argument('--stream', metavar='NAME',
                     help='Caltech annotator files: the stream to use (S1, S2, ...; default the first)')
    src.add_argument('--rater', metavar='NAME',
                     help='bouts with a rater column (e.g. Experimenter): whose bouts to use (needed when '
                          'there are several)')
    parser.add_argument('--output', required=True, metavar='DIR', help='folder for the JSON clips and classes.txt')
    size = parser.add_argument_group('frame size (coordinates are divided by it)')
    size.add_argument('--width', type=float, help='frame width in pixels (with --height)')
    size.add_argument('--height', type=float, help='frame height in pixels (with --width)')
    size.add_argument('--video_dir', metavar='DIR',
                      help='folder of the videos: each file\'s frame size is read from the video of '
                           'the same name with OpenCV; without --width/--height or a video, the '
                           'coordinate range is used (with a warning)')
    parser.add_argument('--pcutoff', type=float, default=0.6,
                        help='likelihood below which a point is masked (pose 0,0, score 0); in [0, 1]')
    parser.add_argument('--max_gap', type=int, default=model_input.DEFAULT_MAX_GAP, metavar='FRAMES',
                        help='fill gaps of masked points up to this many frames by linear interpolation, per '
                             'individual and bodypart (0: off); longer gaps stay masked')
    parser.add_argument('--fps', type=float, default=None,
                        help='frame rate of the recordings (frames per second; default: the annotation file\'s, '
                             'as BORIS states it), stored in every clip')
    parser.add_argument('--target_fps', type=float, default=None,
                        help='resample every recording to this frame rate (linear interpolation of the poses, '
                             'nearest frame for the labels) before cutting clips: for recordings made at '
                             'different rates; needs each recording\'s rate (--fps or its annotations)')
    parser.add_argument('--clip_len', default='300',
                        help='frames per clip, or seconds with an s (2s; needs --fps or annotations that '
                             'give it)')
    parser.add_argument('--stride', default=None,
                        help='frames (or seconds: 1s) between clip starts (default: --clip_len); the last '
                             'partial clip is kept if it has at least clip_len/2 frames')
    parser.add_argument('--cut', default='bouts', choices=CUTS,
                        help='with --annotations: bouts (clips inside each labelled bout, one class per clip: the '
                             'clip classifier) or anywhere (clips over the whole recording with every frame\'s '
                             'label, transitions included: the per-frame model net.st_gcn_dense.Model)')
    parser.add_argument('--min_len', default='1',
                        help='frames (or seconds) a recording or bout shorter than --clip_len needs to become '
                             'one clip (padded to clip_len later by kinetics_gendata); default 1 frame')
    parser.add_argument('--augment', type=int, default=0, metavar='N',
                        help=f'extra copies per clip, each with a random scale in {AUG_SCALE} and a '
                             f'random shift of {AUG_SHIFT_PX} pixels per axis')
    parser.add_argument('--seed', type=int, default=0, help='random seed of --augment')
    parser.add_argument('--rename', nargs='+', metavar='OLD=NEW',
                        help='bodypart names to change before --bodyparts applies, for files whose projects '
                             'named the same point differently (e.g. "Left Ear=l_ear")')
    nodes = parser.add_mutually_exclusive_group()
    nodes.add_argument('--bodyparts', nargs='+', metavar='NAME',
                       help='bodyparts to keep, in graph node order (default: the file\'s order)')
    nodes.add_argument('--dlc_config', metavar='YAML',
                       help='take the bodypart order from a DeepLabCut config.yaml (bodyparts, or '
                            'multianimalbodyparts + uniquebodyparts for maDLC)')
    parser.add_argument('--classes', nargs='+', metavar='NAME',
                        help='the classes, in label_index order: names, or one classes.txt (one name per '
                             'line). With --annotations, labels not listed are left out (their frames are '
                             'not converted) and where bouts of two classes overlap, the class listed first '
                             'wins. Default: the output\'s classes.txt extended with new names, or the '
                             'sorted class names')
    parser.add_argument('--single', choices=dlc_io.SINGLE_MODES, default='attach',
                        help='maDLC "single" block of unique bodyparts: attach to every individual '
                             'or drop')
    parser.add_argument('--log_level', default='INFO', choices=['DEBUG', 'INFO', 'WARNING', 'ERROR'],
                        help='logging verbosity')
    args = parser.parse_args(argv)
    if args.annotations is None and not args.input:
        parser.error('give --input (class folders, or files with --label) or --annotations')
    if args.annotations is not None and args.label is not None:
        parser.error('--label and --annotations exclude each other (bouts carry their own labels)')
    if args.background is not None and args.annotations is None:
        parser.error('--background needs --annotations')
    for option in ('stream', 'rater'):
        if getattr(args, option) is not None and args.annotations is None:
            parser.error(f'--{option} needs --annotations')
    return args


def build_jobs(args: argparse.Namespace) -> tuple[list[Job], list[str]]:
    """The jobs of the command line, and the problems found matching annotations to recordings."""
    if args.annotations is not None:
        return jobs_from_annotations(args.annotations, args.input or (), args.fps, args.stream, args.rater)
    if args.label is not None:
        return jobs_from_label(args.input, args.label), []
    return jobs_from_class_folders(args.input), []


def frames_option(text: str, fps: float | None, name: str) -> int:
    """A --clip_len/--stride/--min_len value in frames (a number) or seconds (2s: needs ``fps``)."""
    if fps is None and str(text).strip().lower().endswith('s'):
        raise ValueError(f'--{name} {text}: a length in seconds needs the frame rate: give --fps (or '
                         'annotations that state it, as BORIS exports do)')
    return annotations.seconds_or_frames(text, fps, f'--{name}')


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format='%(levelname)s %(name)s: %(message)s')
    logging.getLogger('numexpr').setLevel(logging.WARNING)  # its thread-count notice is not ours to show
    bodyparts = args.bodyparts
    if args.dlc_config:
        bodyparts = dlc_io.bodyparts_from_dlc_config(args.dlc_config,
                                                     include_unique=args.single == 'attach')
    if args.background is not None:
        kinetics_json.check_label(args.background, '--background')
    opts = ConvertOptions(output=args.output, width=args.width, height=args.height,
                          video_dir=args.video_dir, pcutoff=args.pcutoff, augment=args.augment, seed=args.seed,
                          bodyparts=bodyparts, single=args.single, max_gap=args.max_gap, fps=args.fps,
                          target_fps=args.target_fps, background=args.background, cut=args.cut,
                          rename=dlc_io.parse_rename(args.rename))
    opts.validate()  # before any file is read; the lengths follow once the frame rate is known
    jobs, problems = build_jobs(args)
    for problem in problems:
        logger.warning('%s', problem)
    fps = args.target_fps or args.fps
    if fps is None:  # seconds need one frame rate: the annotations' when they all state the same
        rates = {job.annotation.fps for job in jobs if job.annotation is not None}
        fps = rates.pop() if len(rates) == 1 and None not in rates else None
        if len(rates - {None}) > 1:
            logger.warning('the annotations state different frame rates (%s fps): the clips mix them; give '
                           '--target_fps to resample every recording to one rate',
                           ', '.join(f'{r:g}' for r in sorted(rates - {None})))
    clip_len = frames_option(args.clip_len, fps, 'clip_len')
    opts = dataclasses.replace(
        opts, clip_len=clip_len, min_len=frames_option(args.min_len, fps, 'min_len'),
        stride=clip_len if args.stride is None else frames_option(args.stride, fps, 'stride'))
    opts.validate()
    labels = [label for job in jobs for label in job.labels]
    if args.background is not None:
        labels.append(args.background)
    classes = resolve_classes(labels, args.classes, args.output, annotated=args.annotations is not None)
    annotated = [job.annotation for job in jobs if job.annotation is not None]
    if annotated:  # for smoothing the ethograms of models trained on these clips (main.py demo --smooth hmm)
        opts = dataclasses.replace(opts, mean_bout=annotations.mean_bout_lengths(
            annotated, classes, scale=None if opts.target_fps is None else opts.target_fps))
    if args.background is not None and args.background not in classes:
        raise ValueError(f'--background {args.background!r} is not one of --classes {", ".join(classes)}')
    created = not os.path.isdir(args.output)
    os.makedirs(args.output, exist_ok=True)
    result = convert_batch(jobs, {c: i for i, c in enumerate(classes)}, opts)
    if result.converted:
        with atomic_write(os.path.join(args.output, 'classes.txt'), 'w') as handle:
            handle.write(''.join(c + '\n' for c in classes))
    elif created and not os.listdir(args.output):
        os.rmdir(args.output)  # nothing converted: leave nothing behind
    print(format_summary(result, args.output, problems))
    return 0 if result.ok else 1


def format_summary(result: BatchResult, output: str, problems: Sequence[str] = ()) -> str:
    n_json = sum(len(v) for v in result.converted.values())
    lines = [f'converted {len(result.converted)} file(s) into {n_json} JSON clip(s) in {output}']
    for path, written in result.converted.items():
        lines.append(f'  ok       {path}: {len(written)} JSON file(s)')
    if problems:
        lines.append(f'{len(problems)} annotation/recording name problem(s), skipped:')
        lines.extend(f'  SKIPPED  {problem}' for problem in problems)
    if result.refused:
        lines.append(f'refused {len(result.refused)} file(s):')
        for path, reason in result.refused.items():
            shown = reason[len(path) + 2:] if reason.startswith(path + ': ') else reason
            lines.append(f'  REFUSED  {path}: {shown}')
    return '\n'.join(lines)


if __name__ == '__main__':
    run_cli(main)
