"""Demo processor: label every frame of whole recordings (an ethogram) with a trained model.

For each pose file: the same preprocessing as csv2json (bodypart order, pcutoff, frame-size normalisation, 5
decimals) and kinetics_gendata (x, y centred by -0.5, masked joints 0), then the test feeder's transform; windows
of ``--window`` frames every ``--stride`` frames are classified in batches, and each frame gets the class
probabilities averaged over the windows that cover it. Each individual of a multi-animal file is labelled alone.
"""
from __future__ import annotations

import argparse
import logging
import os
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from feeder import dlc_io, model_input
from feeder.transforms import transform_from_feeder_args
from net.utils.graph import layout_spec
from torchlight import safe_load_pickle

from . import ethogram
from .extract import read_label_names_at_least
from .io import ConfigError
from .processor import Processor
from .recognition import REC_Processor

logger = logging.getLogger(__name__)


class Demo(Processor):
    """Labels every frame of whole DLC/SLEAP recordings: ethogram.csv, bouts.csv, ethogram.png, annotated video."""

    def prepare(self) -> None:
        self.transform = transform_from_feeder_args(self.arg.test_feeder_args)
        self.runner = self.inference_runner()  # BatchNorm folded into a copy, micro-batched, inference_mode

    def validate_arg(self) -> None:
        if not self.arg.model:
            raise ConfigError('no model given: set --model (e.g. net.st_gcn.Model) or use a config file (-c)')
        if not self.arg.weights:
            raise ConfigError('demo needs --weights (a trained epoch<N>_model.pt or best_model.pt)')
        if not self.arg.input:
            raise ConfigError('demo needs --input: a pose file (DLC .csv/.h5, SLEAP .h5) or a folder of them')
        if self.arg.video and len(self.input_files()) > 1:
            raise ConfigError('--video goes with a single --input file')
        if self.arg.min_bout < 1:
            raise ConfigError(f'--min_bout must be at least 1 frame, got {self.arg.min_bout}')

    def input_files(self) -> list[str]:
        path = self.arg.input
        if os.path.isdir(path):
            files = sorted(os.path.join(path, f) for f in os.listdir(path)
                           if not f.startswith('.') and os.path.splitext(f)[1].lower() in dlc_io.POSE_EXTENSIONS)
            if not files:
                raise FileNotFoundError(f'{path}: no pose files (.csv, .h5) in this folder')
            return files
        if not os.path.exists(path):
            raise FileNotFoundError(f'{path}: no such pose file or folder')
        return [path]

    # ------------------------------------------------------------ preprocessing
    def bodypart_names(self) -> list[str] | None:
        if self.arg.bodyparts:
            return list(self.arg.bodyparts)
        if self.arg.dlc_config:
            return dlc_io.bodyparts_from_dlc_config(self.arg.dlc_config, include_unique=self.arg.single == 'attach')
        return None

    def read_recording(self, path: str) -> model_input.Recording:
        """Read and prepare one recording through the same steps as the training clips (feeder.model_input)."""
        recording = model_input.load_recording(path, self.bodypart_names(), self.arg.single, self.arg.pcutoff,
                                               self.arg.max_gap, self.arg.width, self.arg.height,
                                               video=self.arg.video)
        rec = recording.rec
        num_node = self.model_num_node()
        if num_node is not None and len(rec.bodyparts) != num_node:
            raise ValueError(f'{path}: {len(rec.bodyparts)} bodyparts ({", ".join(rec.bodyparts)}) but the model\'s '
                             f'graph has {num_node} nodes; give --bodyparts or --dlc_config in the order used '
                             'for training')
        return recording

    def model_num_node(self) -> int | None:
        model = self.bare_model
        model = getattr(model, 'origin_stream', model)
        return getattr(model, 'num_node', None)

    def window_batch(self, data: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """(W, C', window, V, M) model input: the windows of a model array ``data`` (3, T, V, M), transformed."""
        window = self.arg.window
        batch = [self.transform(data[:, start:start + window], sample=f'window {start}') for start in starts]
        return np.stack(batch).astype(np.float32)

    # ------------------------------------------------------------ inference
    def classify(self, windows: np.ndarray, desc: str) -> tuple[np.ndarray, np.ndarray]:
        """Softmax probabilities (W, K) and embeddings (W, D) of the windows, in batches."""
        run = self.runner
        probs, feats = [], []
        size = self.arg.test_batch_size
        for i in tqdm(range(0, len(windows), size), desc=desc, unit='batch', leave=False, disable=None):
            scores, embedding = run(torch.from_numpy(windows[i:i + size]).to(self.dev))
            probs.append(torch.softmax(scores.float(), dim=1).cpu().numpy())
            feats.append(embedding.cpu().numpy())
        return np.concatenate(probs), np.concatenate(feats)

    def anomaly_scorer(self):
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
        k = min(5, len(reference))
        neighbours = NearestNeighbors(n_neighbors=k).fit(scaler.transform(reference))

        def score(embeddings: np.ndarray) -> np.ndarray:
            if embeddings.shape[1] != reference.shape[1]:
                raise ValueError(f'{self.arg.features}: embeddings have {reference.shape[1]} values but this model '
                                 f'gives {embeddings.shape[1]}')
            distance, _ = neighbours.kneighbors(scaler.transform(embeddings))
            return distance.mean(axis=1)
        return score

    # ------------------------------------------------------------ run
    def label_recording(self, path: str, class_names: list[str], scorer) -> str:
        recording = self.read_recording(path)
        rec, prepared, data, size = recording.rec, recording.prepared, recording.model_array(), recording.frame_size
        num_frames = rec.num_frames
        starts = ethogram.window_starts(num_frames, self.arg.window, self.arg.stride)
        if self.arg.video:
            check_video_length(self.arg.video, num_frames, path)
        tracks = []
        for i, individual in enumerate(rec.individuals):
            windows = self.window_batch(data[..., i:i + 1], starts)  # each individual alone
            probs, feats = self.classify(windows, f'{rec.name} {individual}')
            if probs.shape[1] > len(class_names):
                raise ValueError(f'the model has {probs.shape[1]} classes but --label_names lists '
                                 f'{len(class_names)}')
            frame_probs = ethogram.frame_average(probs, starts, self.arg.window, num_frames)
            raw_labels = frame_probs.argmax(axis=1)
            runs = ethogram.bouts(raw_labels, frame_probs.max(axis=1), self.arg.min_bout)
            anomaly = None
            if scorer is not None:
                anomaly = ethogram.frame_average(scorer(feats), starts, self.arg.window, num_frames)[:, 0]
            tracks.append({'individual': individual, 'probs': frame_probs,
                           'labels': ethogram.bout_labels(num_frames, runs), 'bouts': runs, 'anomaly': anomaly})
        out_dir = os.path.join(self.arg.work_dir, rec.name)
        os.makedirs(out_dir, exist_ok=True)
        names = class_names[:tracks[0]['probs'].shape[1]]
        ethogram.write_ethogram_csv(os.path.join(out_dir, 'ethogram.csv'), tracks, names, self.arg.fps)
        ethogram.write_bouts_csv(os.path.join(out_dir, 'bouts.csv'), tracks, names, self.arg.fps)
        ethogram.plot_ethogram(os.path.join(out_dir, 'ethogram.png'), tracks, names, self.arg.fps,
                               f'{rec.name}: {num_frames} frames, window {self.arg.window}, stride {self.arg.stride}')
        if self.arg.video:
            layout = (self.arg.model_args or {}).get('graph_args', {}).get('layout')
            edges = layout_spec(layout).edges if layout is not None else ()
            ethogram.write_annotated_video(self.arg.video, os.path.join(out_dir, 'annotated.mp4'), prepared.pose,
                                           prepared.score, edges, tracks, names, size)
        for track in tracks:
            counts = np.bincount(track['labels'], minlength=len(names)) / num_frames
            share = ', '.join(f'{n} {100 * c:.0f}%' for n, c in zip(names, counts) if c > 0)
            self.io.print_log(f'{rec.name} [{track["individual"]}]: {len(track["bouts"])} bouts; {share}')
        return out_dir

    def start(self) -> None:
        files = self.input_files()
        class_names = self.class_names()
        scorer = self.anomaly_scorer()
        done, refused = [], []
        for path in files:
            try:
                done.append((path, self.label_recording(path, class_names, scorer)))
            except (ValueError, FileNotFoundError) as exc:
                if len(files) == 1:
                    raise
                refused.append((path, str(exc)))
                logger.error('%s', exc)
        for path, out_dir in done:
            self.io.print_log(f'labelled {path} -> {out_dir}/ (ethogram.csv, bouts.csv, ethogram.png'
                              f'{", annotated.mp4" if self.arg.video else ""})')
        if refused:
            lines = '\n'.join(f'  {p}: {m}' for p, m in refused)
            raise ValueError(f'{len(refused)} of {len(files)} recordings could not be labelled:\n{lines}')

    def read_label_names(self) -> list[str] | None:
        return read_label_names_at_least(self.arg.label_names, self.bare_model)

    def class_names(self) -> list[str]:
        if self.label_names:
            return self.label_names
        num_class = (self.arg.model_args or {}).get('num_class', 0)
        return [str(i) for i in range(num_class)]

    @staticmethod
    def get_parser(add_help: bool = False) -> argparse.ArgumentParser:
        parent = REC_Processor.get_parser(add_help=False)  # so every recognition config file is accepted
        parser = argparse.ArgumentParser(add_help=add_help, parents=[parent], description=__doc__.split('\n')[0])
        parser.add_argument('--input', help='pose file (DLC .csv/.h5, SLEAP .h5) or a folder of them')
        parser.add_argument('--video', help='the recording\'s video: writes annotated.mp4 (one --input file)')
        parser.add_argument('--window', type=int, default=64, help='frames per classified window (default 64)')
        parser.add_argument('--stride', type=int, default=8, help='frames between window starts (default 8)')
        parser.add_argument('--fps', type=float, default=None, help='frame rate: adds times in seconds')
        parser.add_argument('--min_bout', type=int, default=1,
                            help='bouts shorter than this many frames merge into their longer neighbour (default 1)')
        parser.add_argument('--features', default=None,
                            help='features.pkl of main.py extract on the training clips: adds an anomaly score per '
                                 'frame (mean distance to the 5 nearest training embeddings, standardised)')
        parser.add_argument('--bodyparts', nargs='+', default=None, help='bodyparts in graph node order (as csv2json)')
        parser.add_argument('--dlc_config', default=None, help='DLC config.yaml giving the bodypart order (as csv2json)')
        parser.add_argument('--pcutoff', type=float, default=0.6, help='likelihood below which a point is masked')
        parser.add_argument('--max_gap', type=int, default=model_input.DEFAULT_MAX_GAP,
                            help='fill gaps of masked points up to this many frames (as csv2json; 0: off)')
        parser.add_argument('--width', type=float, default=None, help='frame width in pixels (with --height)')
        parser.add_argument('--height', type=float, default=None, help='frame height in pixels (with --width)')
        parser.add_argument('--single', choices=dlc_io.SINGLE_MODES, default='attach',
                            help='maDLC "single" block: attach to every individual or drop (as csv2json)')
        return parser


def check_video_length(video: str, num_frames: int, pose_path: str) -> None:
    import cv2
    capture = cv2.VideoCapture(video)
    try:
        if not capture.isOpened():
            raise ValueError(f'{video}: OpenCV cannot open this video')
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()
    if frames != num_frames:
        raise ValueError(f'{video} has {frames} frames but {pose_path} has {num_frames}: they do not belong '
                         'together (or the video was cut)')
