"""Kinetics-skeleton JSON clips as a dataset (the original's ``Feeder_kinetics``).

Reads a folder of clips and its label file (:mod:`feeder.kinetics_json` describes both) clip by clip, as the original
did; ``tools/kinetics_gendata.py`` turns the same clips into the arrays :class:`feeder.feeder.Feeder` reads, which is
faster for training.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch.utils.data

from . import tools
from .kinetics_json import (check_person_counts, clip_bodyparts, find_num_joints, labelled_clips,
                            read_skeleton_json)
from .transforms import build_transform

# ---------------------------------------------------------------- dataset
class Feeder_kinetics(torch.utils.data.Dataset):
    """Kinetics-skeleton clips from a folder of JSON files and a label JSON.

    Arguments:
        data_path: the folder of ``.json`` clips.
        label_path: the label JSON ``{name: {"has_skeleton", "label", "label_index"}}``.
        ignore_empty_sample: leave out clips whose label entry says ``has_skeleton: false``.
        random_choose: a random window of ``window_size`` frames.
        random_shift: move the non-empty frames to a random position.
        random_move: random rotation, scale and translation (``tools.random_move``).
        window_size: output frames; -1 keeps ``max_frame``.
        pose_matching: track persons across frames (``tools.openpose_match``).
        num_person_in: skeletons read per frame.
        num_person_out: persons kept per frame, the highest-scoring.
        debug: use only the first two clips.
        max_frame: T, the frames read from each clip.
        **transform: the per-sample preparation (normalize, center_joint, heading_joints, focal, channels, layout,
            random_rotate, random_scale, random_noise, ...: :func:`feeder.transforms.build_transform`), applied last
            (the defaults leave the data as it is). Joints
            named without ``layout`` or ``bodyparts`` are looked up in the ``bodyparts`` list that
            ``tools/csv2json.py`` writes into each clip. With an egocentric ``normalize`` every clip is read once
            at construction and what the alignment does to the split is logged in one line.

    Items are ``(data, label)``: data float32 (C', T, V, num_person_out) with C' = ``self.transform.in_channels``
    (3 with the default preparation), label an int.
    """

    def __init__(self, data_path: str, label_path: str, ignore_empty_sample: bool = True,
                 random_choose: bool = False, random_shift: bool = False, random_move: bool = False,
                 window_size: int = -1, pose_matching: bool = False, num_person_in: int = 5,
                 num_person_out: int = 2, debug: bool = False, max_frame: int = 300, **transform: Any) -> None:
        check_person_counts(num_person_in, num_person_out)
        if max_frame < 1:
            raise ValueError(f'max_frame must be >= 1, got {max_frame}')
        self.data_path = data_path
        self.label_path = label_path
        self.ignore_empty_sample = ignore_empty_sample
        self.random_choose = random_choose
        self.random_shift = random_shift
        self.random_move = random_move
        self.window_size = window_size
        self.pose_matching = pose_matching
        self.num_person_in = num_person_in
        self.num_person_out = num_person_out
        self.debug = debug
        self.max_frame = max_frame
        self.load_data()
        joints = [transform.get('center_joint'), *(transform.get('heading_joints') or [])]
        named = [j for j in joints if isinstance(j, str) and not j.isdigit()]
        if named and transform.get('layout') is None and transform.get('bodyparts') is None:
            transform['bodyparts'] = clip_bodyparts(os.path.join(self.data_path, self.sample_name[0]))
        self.transform = build_transform(**transform)
        if self.transform.normalize != 'frame':  # the audit reads every clip once
            clips = (read_skeleton_json(os.path.join(self.data_path, name), self.max_frame, self.num_person_in,
                                        self.num_person_out, V=self.V)[0][None] for name in self.sample_name)
            self.transform.log_audit(clips, os.path.basename(os.path.normpath(self.data_path)))

    def load_data(self) -> None:
        self.sample_name, labels = labelled_clips(self.data_path, self.label_path, self.ignore_empty_sample)
        if self.debug:
            self.sample_name, labels = self.sample_name[:2], labels[:2]
        if not self.sample_name:
            raise ValueError(f'{self.data_path}: no clips to read (none listed with a skeleton in {self.label_path})')
        self.label = np.array(labels, dtype=np.int64)
        # output data shape (N, C, T, V, M)
        self.N = len(self.sample_name)
        self.C = 3
        self.T = self.max_frame
        self.V = find_num_joints([os.path.join(self.data_path, name) for name in self.sample_name])
        self.M = self.num_person_out

    def __len__(self) -> int:
        return len(self.sample_name)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        sample_path = os.path.join(self.data_path, self.sample_name[index])
        data, clip_label = read_skeleton_json(sample_path, self.max_frame, self.num_person_in,
                                              self.num_person_out, V=self.V)  # (3, T, V, M)
        label = int(self.label[index])
        if clip_label is not None and clip_label != label:
            raise ValueError(f'{sample_path}: label_index {clip_label} differs from {label} '
                             f'in {self.label_path}')

        # augmentation (the persons were already sorted and cut; every step below treats the
        # persons of a frame alike, so this gives what sorting after augmenting gave)
        data = tools.original_augmentations(data, shift=self.random_shift, choose=self.random_choose,
                                            window_size=self.window_size, move=self.random_move)
        if self.pose_matching:
            data = tools.openpose_match(data)
        data = self.transform(data, sample=sample_path)  # (C', T, V, M)
        return data, label
