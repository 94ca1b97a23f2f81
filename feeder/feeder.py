"""Feeder over preprocessed arrays: an (N, C, T, V, M) float32 `.npy` and a `(sample_names, labels)` `.pkl`."""
from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import torch

from torchlight import safe_load_pickle

from . import tools
from .model_input import companion_path
from .transforms import build_transform

logger = logging.getLogger(__name__)

_CHECK_CHUNK = 256  # samples scanned at a time when checking the data for NaN/inf


class Feeder(torch.utils.data.Dataset):
    """Skeleton clips from a `.npy` array with labels from a `.pkl`.

    Args:
        data_path: `.npy` of shape (N, C, T, V, M), float32.
        label_path: `.pkl` holding `(sample_names, labels)`; read with a restricted unpickler.
        random_choose: take a random window of `window_size` frames.
        random_shift: pad the clip with zeros at a random position in time.
        random_move: random rotation, scaling and translation over time.
        window_size: frames per sample (-1 keeps T); with random_choose off, shorter clips are zero-padded.
        debug: use only the first 100 samples.
        mmap: memory-map the `.npy` instead of reading it into memory.
        check_finite: refuse data holding NaN or inf, naming the first bad sample.
        dense: serve every frame's label (``<split>_frame_label.npy`` beside the data, written by kinetics_gendata
            for clips of annotated recordings) instead of the clip's, for the per-frame model; the temporal
            augmentations move the labels with the frames.
        **transform: the per-sample preparation (normalize, center_joint, heading_joints, focal, channels, layout,
            random_rotate, random_scale, random_noise, ...: :func:`feeder.transforms.build_transform`), applied
            after the augmentations above (the defaults leave the data as it is); what it does to the split is
            logged in one line (``SampleTransform.audit``).

    Each item is (data float32 (C', T', V, M), label), C' = ``self.transform.in_channels`` (C with the default
    preparation); label is an int, or with ``dense`` an int64 (T',) array (-1 for unlabelled frames).
    """

    def __init__(self, data_path: str, label_path: str, random_choose: bool = False, random_shift: bool = False,
                 random_move: bool = False, window_size: int = -1, debug: bool = False, mmap: bool = True,
                 check_finite: bool = True, dense: bool = False, **transform: Any):
        self.data_path = data_path
        self.label_path = label_path
        self.random_choose = random_choose
        self.random_shift = random_shift
        self.random_move = random_move
        self.window_size = window_size
        self.debug = debug
        self.dense = dense
        self.transform = build_transform(**transform)
        self.load_data(mmap)
        if check_finite:
            self.check_finite()
        self.transform.log_audit(self.data, os.path.basename(self.data_path))

    def load_data(self, mmap: bool) -> None:
        self.sample_name, self.label = read_label_pkl(self.label_path)
        self.data = open_data(self.data_path, mmap)
        if len(self.label) != len(self.data):
            raise ValueError(f'{self.label_path} has {len(self.label)} labels but {self.data_path} has '
                             f'{len(self.data)} samples')
        self.frame_label = None
        if self.dense:
            path = companion_path(self.data_path, '_frame_label.npy')
            if not os.path.isfile(path):
                raise FileNotFoundError(f'{path}: no per-frame labels for the dense model (csv2json --annotations '
                                        '--cut anywhere, then kinetics_gendata, write them)')
            self.frame_label = np.load(path, mmap_mode='r' if mmap else None, allow_pickle=False)
            if self.frame_label.shape != (len(self.data), self.data.shape[2]):
                raise ValueError(f'{path}: shape {self.frame_label.shape}, expected (N, T) = '
                                 f'{(len(self.data), self.data.shape[2])} to match {self.data_path}')
        if self.debug:
            self.label = self.label[:100]
            self.data = self.data[:100]
            self.sample_name = self.sample_name[:100]
            self.frame_label = None if self.frame_label is None else self.frame_label[:100]
        self.N, self.C, self.T, self.V, self.M = self.data.shape

    def check_finite(self) -> None:
        for start in range(0, len(self.data), _CHECK_CHUNK):
            chunk = np.asarray(self.data[start:start + _CHECK_CHUNK])
            finite = np.isfinite(chunk.reshape(len(chunk), -1)).all(axis=1)
            if not finite.all():
                bad = start + int(np.argmin(finite))
                raise ValueError(f'{self.data_path}: sample {bad} ({self.sample_name[bad]}) holds NaN or inf')

    def __len__(self) -> int:
        return len(self.label)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int | np.ndarray]:
        data_numpy = np.array(self.data[index], dtype=np.float32)  # (C, T, V, M), a copy
        label = self.label[index]
        if self.frame_label is not None:
            data_numpy, label = self._augment_with_frame_labels(data_numpy, self.frame_label[index])
        else:
            data_numpy = tools.original_augmentations(data_numpy, shift=self.random_shift,
                                                      choose=self.random_choose, window_size=self.window_size,
                                                      move=self.random_move)
        data_numpy = self.transform(data_numpy, sample=self.sample_name[index])  # (C', T', V, M)
        return data_numpy, label

    def _augment_with_frame_labels(self, data: np.ndarray, frame_label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The original augmentations of (C, T, V, M) ``data`` with its (T,) frame labels riding along as one more
        channel (label + 1, so that padding reads -1), so a shifted or chosen window keeps every frame's label."""
        C, T, V, M = data.shape
        riding = np.broadcast_to((np.asarray(frame_label, np.float32) + 1)[None, :, None, None], (1, T, V, M))
        stacked = tools.original_augmentations(np.concatenate([data, riding]), shift=self.random_shift,
                                               choose=self.random_choose, window_size=self.window_size,
                                               move=self.random_move)  # random_move changes x, y only
        return stacked[:C], np.rint(stacked[C, :, 0, 0]).astype(np.int64) - 1  # (C, T', V, M), (T',)


def read_label_pkl(label_path: str) -> tuple[list[str], list[int]]:
    """``(sample_names, labels)`` from a label ``.pkl`` (read with a restricted unpickler)."""
    labels = safe_load_pickle(label_path)
    if not (isinstance(labels, (tuple, list)) and len(labels) == 2):
        raise ValueError(f'{label_path}: expected a pickled (sample_names, labels) pair')
    names, values = [str(name) for name in labels[0]], [int(label) for label in labels[1]]
    if len(names) != len(values):
        raise ValueError(f'{label_path}: {len(names)} sample names but {len(values)} labels')
    return names, values


def open_data(data_path: str, mmap: bool = True) -> np.ndarray:
    """An (N, C, T, V, M) ``.npy``, memory-mapped read-only when ``mmap``."""
    if not os.path.isfile(data_path):
        raise FileNotFoundError(f'{data_path}: data file not found')
    try:
        data = np.load(data_path, mmap_mode='r' if mmap else None, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f'{data_path}: not a readable .npy array ({exc})') from None
    if data.ndim != 5:
        raise ValueError(f'{data_path}: expected an array (N, C, T, V, M), got shape {data.shape}')
    return data
