"""Demo processor: label every frame of whole recordings (an ethogram) with a trained model, and score the
ethogram against human labels when they are given.

For each pose file: the model's input preparation (feeder.model_input: bodyparts, gap filling, resampling to the
model's frame rate, normalising, then the transform the model was trained with), taken from the model file
written by training; windows of ``--window`` frames every ``--stride`` frames are classified in batches and each
frame gets the class probabilities averaged over the windows that cover it (a per-frame model,
net.st_gcn_dense.Model, scores every frame of a window: each frame gets the mean of the windows' scores
weighted towards their centres). A model trained on single animals
labels each individual of a multi-animal file alone; a model trained on M individuals labels the tracks M at a
time (all of them when the file has M; every group of M when it has more).

A lab's archive: ``torchrun --nproc_per_node N main.py demo --input folder/ --skip_done`` shares the recordings
between the processes (and machines), and a re-run skips the recordings whose outputs are complete.
"""
from __future__ import annotations

import itertools
import logging
import os
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from feeder import annotations, dlc_io, model_input
from feeder.model_input import DEFAULT_MAX_GAP, InputSpec
from feeder.transforms import build_transform, transform_args
from net.utils.graph import layout_spec
from torchlight import safe_load_pickle

from . import distributed, ethogram, evaluation
from .extract import read_label_names_at_least
from .io import IO, ConfigError
from .runner import make_runner

logger = logging.getLogger(__name__)
DEFAULT_WINDOW = 64
DEFAULT_STRIDE = 8  # frames between the windows of a clip model (a per-frame model: half a window)
GROUP_SEPARATOR = '+'


class Demo(IO):
    """Labels every frame of whole DLC/SLEAP recordings: ethogram.csv, bouts.csv, ethogram.png, annotated video."""

    OPTION_GROUPS = ('common', 'model', 'input', 'evaluation', 'demo')

    def validate_arg(self) -> None:
        if not self.arg.weights:
            raise ConfigError('demo needs --weights (a trained best_model.pt or epoch<N>_model.pt)')
        if not self.arg.input:
            raise ConfigError('demo needs --input: a pose file (DLC .csv/.h5, SLEAP .h5) or a folder of them')
        if self.arg.video and len(self.input_files()) > 1:
            raise ConfigError('--video goes with a single --input file')
        for option in ('stream', 'rater', 'background'):
            if getattr(self.arg, option) is not None and not self.arg.annotations:
                raise ConfigError(f'--{option} goes with --annotations')

    def prepare(self) -> None:
        self.spec = self.input_spec()
        self.transform = build_transform(**transform_args(self.spec.transform))
        self.runner = make_runner(self.model, self.dev, self.amp_dtype, self.arg.compile, self.arg.test_batch_size)
        self.num_person = int(self.spec.num_person or 1)
        self.dense = hasattr(self.bare_model, 'forward_stages')  # a per-frame model (net.st_gcn_dense.Model)
        self.num_class = getattr(getattr(self.bare_model, 'origin_stream', self.bare_model), 'num_class', None)

    # ------------------------------------------------------------ what the model expects
    def input_spec(self) -> InputSpec:
        """The model's input spec (its model file's, or the defaults and --test_feeder_args for a plain state
        dict), with the demo options the user gave: those that would change what the model sees must agree with
        the model file's, the others (the window) may differ."""
        stored = self.model_file.input if self.model_file is not None else None
        spec = InputSpec(**(stored.to_dict() if stored is not None else {}))
        if stored is None:
            spec.transform = transform_args(getattr(self.arg, 'test_feeder_args', None))
            spec.clip_len = None
        choices = {'bodyparts': self.bodypart_names(), 'pcutoff': self.arg.pcutoff, 'max_gap': self.arg.max_gap,
                   'single': self.arg.single}
        if self.arg.width is not None or self.arg.height is not None:
            choices['frame_size'] = [self.arg.width, self.arg.height]
        for key, value in choices.items():
            if value is None:
                continue
            if stored is not None and getattr(stored, key) is not None and _differs(getattr(stored, key), value):
                raise ConfigError(f'--{key} {value} contradicts {self.model_file.path}, whose training data had '
                                  f'{key} {getattr(stored, key)} (leave it out to use the model file\'s)')
            setattr(spec, key, value)
        if stored is None and self.arg.max_gap is None:
            spec.max_gap = DEFAULT_MAX_GAP
        return spec

    def bodypart_names(self) -> list[str] | None:
        if self.arg.bodyparts:
            return list(self.arg.bodyparts)
        if self.arg.dlc_config:
            return dlc_io.bodyparts_from_dlc_config(self.arg.dlc_config, include_unique=self.arg.single != 'drop')
        return None

    def read_label_names(self) -> list[str] | None:
        if self.arg.label_names:
            return read_label_names_at_least(self.arg.label_names, self.bare_model)
        return self.model_file_class_names()

    def class_names(self) -> list[str]:
        num_class = getattr(getattr(self.bare_model, 'origin_stream', self.bare_model), 'num_class', 0)
        return list(self.label_names) if self.label_names else [str(i) for i in range(num_class)]

    def model_num_node(self) -> int | None:
        return getattr(getattr(self.bare_model, 'origin_stream', self.bare_model), 'num_node', None)

    def input_files(self) -> list[str]:
        path = self.arg.input
        if os.path.isdir(path):
            files = sorted(os.path.join(path, f) for f in os.listdir(path)
                           if not f.startswith('.') and os.path.splitext(f)[1].lower() in dlc_io.POSE_EXTENSIONS)
            if not files:
                raise FileNotFoundError(f'{path}: no pose files ({", ".join(dlc_io.POSE_EXTENSIONS)}) in this folder')
            return files
        if not os.path.exists(path):
            raise FileNotFoundError(f'{path}: no such pose file or folder')
        return [path]

    # ------------------------------------------------------------ preprocessing
    def read_recording(self, path: str, fps: float | None = None) -> model_input.Recording:
        """Read and prepare one recording through the same steps as the training clips (feeder.model_input),
        resampled to the model's frame rate when the recording's (``fps``) differs."""
        spec = self.spec
        width, height = (spec.frame_size or (None, None))
        if fps is None and spec.fps is not None:
            fps = spec.fps
            self.io.print_log(f'{path}: frame rate not given (--fps), nor by annotations or a video: taken to be '
                              f'the model\'s, {spec.fps:g} fps.')
        target = spec.fps if fps is not None and spec.fps is not None and fps != spec.fps else None
        recording = model_input.load_recording(path, spec.bodyparts, spec.single, spec.pcutoff, spec.max_gap,
                                               width, height, video=self.arg.video, fps=fps, target_fps=target,
                                               rename=spec.rename)
        rec = recording.rec
        num_node = self.model_num_node()
        if num_node is not None and len(rec.bodyparts) != num_node:
            raise ValueError(f'{path}: {len(rec.bodyparts)} bodyparts ({", ".join(rec.bodyparts)}) but the model\'s '
                             f'graph has {num_node} nodes; give --bodyparts or --dlc_config in the order used '
                             'for training')
        if recording.resampled:
            self.io.print_log(f'{rec.name}: resampled from {fps:g} to {spec.fps:g} fps, the model\'s frame rate.')
        return recording

    def window_batch(self, data: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
        """(W, C', window, V, M) model input: the windows of a model array ``data`` (3, T, V, M), transformed."""
        batch = [self.transform(data[:, start:start + window], sample=f'window {start}') for start in starts]
        return np.stack(batch).astype(np.float32)

    # ------------------------------------------------------------ inference
    def classify(self, windows: np.ndarray, desc: str) -> tuple[np.ndarray, np.ndarray]:
        """Softmax probabilities (W, K) and embeddings (W, D) of the windows, in batches."""
        probs, feats = [], []
        size = self.arg.test_batch_size
        for i in tqdm(range(0, len(windows), size), desc=desc, unit='batch', leave=False, disable=None):
            scores, embedding = self.runner(torch.from_numpy(windows[i:i + size]).to(self.dev))
            probs.append(torch.softmax(scores.float(), dim=1).cpu().numpy())  # (w, K) or per frame (w, K, window)
            if embedding is not None and embedding.dim() == 3:  # a per-frame embedding: the window's mean
                embedding = embedding.mean(dim=2)
            feats.append(embedding.cpu().numpy() if embedding is not None else np.zeros((len(scores), 0)))
        return np.concatenate(probs), np.concatenate(feats)

    def anomaly_scorer(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """Distance of an embedding to its nearest training embeddings (mean over the 5 nearest), or None."""
        if not self.arg.features:
            return None
        from sklearn.neighbors import NearestNeighbors
        from sklearn.preprocessing import StandardScaler
        data = safe_load_pickle(self.arg.features)
        if not isinstance(data, dict) or 'features' not in data:
            raise ValueError(f'{self.arg.features}: not a features.pkl of main.py extract (no "features" entry)')
        reference = np.asarray(data['features'], dtype=np.float64)
        scaler = StandardScaler().fit(reference)
        neighbours = NearestNeighbors(n_neighbors=min(5, len(reference))).fit(scaler.transform(reference))

        def score(embeddings: np.ndarray) -> np.ndarray:
            if embeddings.shape[1] != reference.shape[1]:
                raise ValueError(f'{self.arg.features}: embeddings have {reference.shape[1]} values but this model '
                                 f'gives {embeddings.shape[1]}')
            distance, _ = neighbours.kneighbors(scaler.transform(embeddings))
            return distance.mean(axis=1)
        return score

    def groups(self, individuals: list[str]) -> list[tuple[int, ...]]:
        """The individuals labelled together, as track indices in slot order (slot 0 is the focal slot of the focal
        normalisations): one each for a single-animal model; for a model of M individuals all of them when the file
        has M or fewer (the missing slots empty), else every group of M. ``--focal each`` gives every individual
        its own group in which it takes slot 0, the others following in file order."""
        M = self.num_person
        count = len(individuals)
        if M == 1:
            return [(i,) for i in range(count)]
        if self.arg.focal == 'each':
            return [(i, *rest) for i in range(count)
                    for rest in itertools.combinations([j for j in range(count) if j != i], min(M, count) - 1)]
        if count <= M:
            return [tuple(range(count))]
        return list(itertools.combinations(range(count), M))

    def slots(self, data: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
        """(3, T, V, M) model array of the individuals ``order`` of ``data`` (3, T, V, I), empty slots appended."""
        slots = data[..., list(order)]
        if slots.shape[-1] < self.num_person:
            pad = np.zeros(slots.shape[:-1] + (self.num_person - slots.shape[-1],), slots.dtype)
            slots = np.concatenate([slots, pad], axis=-1)
        return slots

    def frames(self, text: str, fps: float | None, option: str) -> int:
        """A --window/--stride/--min_bout value in frames (a number) or seconds (2s, at ``fps``)."""
        if fps is None and str(text).strip().lower().endswith('s'):
            raise ConfigError(f'--{option} {text}: a length in seconds needs the frame rate (give --fps)')
        return annotations.seconds_or_frames(text, fps, f'--{option}')

    # ------------------------------------------------------------ run
    def label_recording(self, path: str, class_names: list[str], scorer, fps: float | None) -> dict[str, Any]:
        """Label one recording; write its files; return its tracks (and where they went)."""
        recording = self.read_recording(path, fps)
        rec, prepared = recording.rec, recording.prepared
        data = recording.model_array()                                    # (3, T', V, I) at the model's rate
        model_fps = recording.fps
        window = self.frames(self.arg.window, model_fps, 'window') if self.arg.window else \
            int(self.spec.clip_len or DEFAULT_WINDOW)
        if self.spec.clip_len and self.arg.window and window != self.spec.clip_len:
            self.io.print_log(f'--window {window} frames differs from the {self.spec.clip_len}-frame clips the model '
                              'was trained on (allowed; its scores may be less reliable).')
        if self.arg.stride is not None:
            stride = self.frames(self.arg.stride, model_fps, 'stride')
        else:  # a per-frame model needs less overlap; its windows start at multiples of its temporal stride
            stride = max(4, window // 2 // 4 * 4) if self.dense else DEFAULT_STRIDE
        min_bout = self.frames(self.arg.min_bout, recording.source_fps or model_fps, 'min_bout')
        if min_bout < 1:
            raise ConfigError(f'--min_bout must be at least 1 frame, got {self.arg.min_bout}')
        num_frames = rec.num_frames
        starts = ethogram.window_starts(len(prepared.pose), window, stride)
        if self.arg.video:
            check_video_length(self.arg.video, num_frames, path)
        tracks = []
        if len(self.groups(rec.individuals)) > 1 and self.num_person > 1:
            self.io.print_log(f'{rec.name}: {len(rec.individuals)} individuals for a model of {self.num_person}: '
                              f'{len(self.groups(rec.individuals))} groups labelled (--focal {self.arg.focal}).')
        for group in self.groups(rec.individuals):
            name = GROUP_SEPARATOR.join(rec.individuals[i] for i in group)
            orders = [group[k:] + group[:k] for k in range(len(group))] if self.arg.focal == 'average' else [group]
            results = [self.classify(self.window_batch(self.slots(data, order), starts, window), f'{rec.name} {name}')
                       for order in orders]
            probs = np.mean([r[0] for r in results], axis=0)               # the mean over the focal choices
            feats = np.mean([r[1] for r in results], axis=0)
            if probs.shape[1] > len(class_names):
                raise ValueError(f'the model has {probs.shape[1]} classes but --label_names lists '
                                 f'{len(class_names)}')
            per_frame = (ethogram.stitch_frames(probs, starts, len(prepared.pose), weighting='centre') if self.dense
                         else ethogram.frame_average(probs, starts, window, len(prepared.pose)))  # (T', K)
            frame_probs = to_source_frames(per_frame, recording)
            mean_bout = self.mean_bout(probs.shape[1], recording)
            raw = evaluation.smooth(frame_probs, self.arg.smooth, window=self.median_window(min_bout, mean_bout),
                                    min_bout=None if mean_bout is not None else min_bout,
                                    mean_bout=mean_bout if self.arg.smooth == 'hmm' else None)
            runs = ethogram.bouts(raw, frame_probs.max(axis=1), min_bout if self.arg.smooth == 'none' else 1)
            anomaly = None
            if scorer is not None and feats.shape[1]:
                anomaly = to_source_frames(ethogram.frame_average(scorer(feats), starts, window,
                                                                  len(prepared.pose)), recording)[:, 0]
            tracks.append({'individual': name, 'probs': frame_probs, 'labels': ethogram.bout_labels(num_frames, runs),
                           'bouts': runs, 'anomaly': anomaly})
        out_dir = os.path.join(self.arg.work_dir, rec.name)
        os.makedirs(out_dir, exist_ok=True)
        names = class_names[:tracks[0]['probs'].shape[1]]
        out_fps = recording.source_fps
        ethogram.write_ethogram_csv(os.path.join(out_dir, 'ethogram.csv'), tracks, names, out_fps)
        ethogram.write_bouts_csv(os.path.join(out_dir, 'bouts.csv'), tracks, names, out_fps)
        ethogram.plot_ethogram(os.path.join(out_dir, 'ethogram.png'), tracks, names, out_fps,
                               f'{rec.name}: {num_frames} frames, window {window}, stride {stride}')
        if self.arg.nwb:  # the bouts as an NWB TimeIntervals table (in a copy of an NWB pose file)
            from feeder.pose_formats import bouts_from_tracks, write_ethogram_nwb
            if out_fps is None and rec.fmt != 'nwb':
                raise ValueError(f'{path}: --nwb times the bouts in seconds: give the frame rate (--fps)')
            write_ethogram_nwb(os.path.join(out_dir, 'ethogram.nwb'), bouts_from_tracks(tracks, names), names,
                               out_fps, source_nwb=path if rec.fmt == 'nwb' else None)
        if self.arg.video:
            layout = (self.arg.model_args or {}).get('graph_args', {}).get('layout')
            edges = layout_spec(layout).edges if layout is not None else ()
            original = model_input.prepare_pose(rec.xy, rec.score, *recording.frame_size, self.spec.pcutoff,
                                                self.spec.max_gap, rec.source)
            ethogram.write_annotated_video(self.arg.video, os.path.join(out_dir, 'annotated.mp4'), original.pose,
                                           original.score, edges, tracks, names, recording.frame_size)
        for track in tracks:
            counts = np.bincount(track['labels'], minlength=len(names)) / num_frames
            share = ', '.join(f'{n} {100 * c:.0f}%' for n, c in zip(names, counts) if c > 0)
            self.io.print_log(f'{rec.name} [{track["individual"]}]: {len(track["bouts"])} bouts; {share}')
        return {'out_dir': out_dir, 'tracks': tracks, 'num_frames': num_frames, 'name': rec.name, 'fps': out_fps}

    def median_window(self, min_bout: int, mean_bout: np.ndarray | None) -> int:
        """The window of --smooth median: --min_bout (made odd); without it, half the shortest mean training bout
        (odd), said once; 1 (no smoothing, with a warning) when the model file has no bout lengths."""
        if self.arg.smooth != 'median' or 'min_bout' in self.given:
            return min_bout | 1
        window = 1 if mean_bout is None else max(1, int(mean_bout.min() // 2)) | 1
        if not getattr(self, '_median_said', False):
            self._median_said = True
            self.io.print_log(
                f'--smooth median: a window of {window} frames, half the shortest mean bout of the training labels '
                '(--min_bout sets it).' if mean_bout is not None else
                '--smooth median: the model file has no training bout lengths and --min_bout is not given, so the '
                'labels are not smoothed; give --min_bout (frames, or seconds: 0.5s).')
        return window

    def mean_bout(self, num_class: int, recording: model_input.Recording) -> np.ndarray | None:
        """For --smooth hmm or median without --min_bout: the training bouts' mean lengths per class that the
        model file carries, in the recording's frames (a class without bouts, such as the background, gets the
        median of the others), or None."""
        lengths = self.spec.mean_bout
        if not lengths or self.arg.smooth not in ('hmm', 'median') or 'min_bout' in self.given:
            return None
        scale = recording.source_fps / recording.fps if recording.resampled else 1.0
        values = np.array([float(lengths.get(name, np.nan)) * scale for name in self.class_names()[:num_class]])
        if np.isnan(values).all():
            return None
        return np.where(np.isnan(values), np.nanmedian(values), values)  # a class without bouts (the background)

    def start(self) -> None:
        with distributed.process_group_closed_after():
            self.label_all()

    def label_all(self) -> None:
        """Label every input file (under torchrun, each rank its share of the files: rank r takes files r, r + W,
        ...); rank 0 logs the summary of all of them and writes the pooled evaluation."""
        files = self.input_files()
        class_names = self.class_names()
        scorer = self.anomaly_scorer()
        truth = self.truth_annotations(files)
        done, refused, skipped = [], [], []
        scored: list[tuple[str, np.ndarray, np.ndarray, str]] = []
        rank, world = self.dist.rank, self.dist.world_size
        if world > 1:
            self.io.print_log(f'{len(files)} recordings shared by {world} processes.')
        for path in files[rank::world]:
            if self.arg.skip_done and self.is_done(path, truth):
                skipped.append(path)
                continue
            try:
                fps = self.arg.fps
                annotation = truth.get(os.path.normpath(path))
                if fps is None and annotation is not None:
                    fps = annotation.fps
                if fps is None and self.arg.video:
                    fps = dlc_io.video_info(self.arg.video).fps or None
                result = self.label_recording(path, class_names, scorer, fps)
                done.append((path, result['out_dir']))
                if annotation is not None:
                    scored.extend(self.score(result, annotation, class_names))
            except (ValueError, FileNotFoundError) as exc:
                if len(files) == 1:
                    raise
                refused.append((path, str(exc)))
                logger.error('%s', exc)
        if world > 1:  # every rank's lists, on every rank (rank 0 reports them)
            parts = distributed.all_gather_objects((done, refused, skipped, scored))
            done, refused, skipped, scored = (sum((list(part[k]) for part in parts), []) for k in range(4))
        if not self.is_main_process:
            return
        if skipped:
            self.io.print_log(f'--skip_done: {len(skipped)} recording(s) already labelled, skipped: '
                              f'{", ".join(os.path.basename(p) for p in skipped)}')
        for path, out_dir in done:
            extras = [name for name, on in (('ethogram.nwb', self.arg.nwb), ('annotated.mp4', self.arg.video),
                                            ('evaluation files', truth.get(os.path.normpath(path)))) if on]
            self.io.print_log(f'labelled {path} -> {out_dir}/ (ethogram.csv, bouts.csv, ethogram.png'
                              f'{"".join(", " + name for name in extras)})')
        if len(scored) > 1:
            self.write_pooled_evaluation(scored, class_names)
        if refused:
            lines = '\n'.join(f'  {p}: {m}' for p, m in refused)
            raise ValueError(f'{len(refused)} of {len(files)} recordings could not be labelled:\n{lines}')

    def is_done(self, path: str, truth: dict[str, annotations.Annotation]) -> bool:
        """Whether a recording's outputs are all there (each is written whole, so present means complete)."""
        name = os.path.splitext(os.path.basename(path))[0]
        expected = ['ethogram.csv', 'bouts.csv', 'ethogram.png'] + (['ethogram.nwb'] if self.arg.nwb else []) + \
            (['annotated.mp4'] if self.arg.video else [])
        if truth.get(os.path.normpath(path)) is not None:
            expected.append('evaluation.json')
        return all(os.path.isfile(os.path.join(self.arg.work_dir, name, f)) for f in expected)

    # ------------------------------------------------------------ evaluation against human labels
    def truth_annotations(self, files: list[str]) -> dict[str, annotations.Annotation]:
        """The recordings' human labels (--annotations), by normalised pose-file path; name problems are logged."""
        if not self.arg.annotations:
            return {}
        pairs, problems = annotations.pair_annotations(self.arg.annotations, lambda: files, self.arg.fps,
                                                       self.arg.stream, self.arg.rater)
        for problem in problems:
            self.io.print_log(f'--annotations: {problem}')
        return {os.path.normpath(path): ann for path, ann in pairs}

    def background(self, class_names: list[str]) -> str | None:
        background = self.arg.background or self.spec.background
        if background is not None and background not in class_names:
            raise ConfigError(f'--background {background!r} is not one of the model\'s classes '
                              f'({", ".join(class_names)})')
        return background

    def score(self, result: dict[str, Any], annotation: annotations.Annotation, class_names: list[str]
              ) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
        """Score every track of a labelled recording against its human labels; write the evaluation files in the
        recording's folder and log one summary line per track."""
        names = class_names[:result['tracks'][0]['probs'].shape[1]]
        true, report = annotations.frame_labels(annotation, result['num_frames'], names, self.background(names))
        notes = annotations.describe_report(report)
        if notes:
            self.io.print_log(f'{result["name"]} (labels {annotation.source}): {notes}')
        scored = evaluation.score_tracks(result['name'], [(t['individual'], t['labels']) for t in result['tracks']],
                                         true, names, result['out_dir'], result['fps'])
        for *_, line in scored:
            self.io.print_log(line)
        return scored

    def write_pooled_evaluation(self, scored: list[tuple[str, np.ndarray, np.ndarray, str]],
                                class_names: list[str]) -> None:
        folder = os.path.join(self.arg.work_dir, 'evaluation')
        line = evaluation.write_pooled(scored, class_names[:self.num_class or len(class_names)], folder)
        self.io.print_log(f'{line} -> {folder}/')


def to_source_frames(values: np.ndarray, recording: model_input.Recording) -> np.ndarray:
    """Per-frame values (T', K) at the prepared (model) frame rate -> (T, K) at the file's frames (linear
    interpolation; the values themselves when nothing was resampled)."""
    if not recording.resampled:
        return values
    positions = np.minimum(recording.source_positions(), len(values) - 1)       # (T,)
    grid = np.arange(len(values))
    return np.stack([np.interp(positions, grid, values[:, k]) for k in range(values.shape[1])], axis=1)


def check_video_length(video: str, num_frames: int, pose_path: str) -> None:
    frames = dlc_io.video_info(video).frames
    if frames != num_frames:
        raise ValueError(f'{video} has {frames} frames but {pose_path} has {num_frames}: they do not belong '
                         'together (or the video was cut)')


def _differs(stored: Any, given: Any) -> bool:
    if isinstance(stored, (list, tuple)) and isinstance(given, (list, tuple)):
        return len(stored) != len(given) or any(_differs(a, b) for a, b in zip(stored, given))
    if isinstance(stored, (int, float)) and isinstance(given, (int, float)):
        return abs(float(stored) - float(given)) > 1e-9
    return stored != given
