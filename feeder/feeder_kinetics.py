"""Kinetics-skeleton JSON clips as a dataset, and the one function that reads such a clip.

A clip is ``{"data": [{"frame_index": t, "skeleton": [{"pose": [x0, y0, x1, y1, ...],
"score": [s0, s1, ...]}, ...]}, ...], "label": str, "label_index": int}`` (other keys, such as
the ``bodyparts``, ``masked_fraction``, ``source`` and ``frame_size`` written by
``tools/csv2json.py``, are ignored). The label file is ``{name: {"has_skeleton": bool,
"label": str, "label_index": int}}`` with ``name`` the clip's file name without ``.json``.

Shapes: C = 3 channels (x, y, score), T = ``max_frame`` frames, V joints (read from the
data: ``len(pose) // 2`` of the first skeleton found), M persons.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Mapping, Sequence

import numpy as np
import torch.utils.data

from . import tools
from .transforms import build_transform

try:  # optional: parses a clip about 5x faster than the json module; same values
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

logger = logging.getLogger(__name__)

CLIP_SUFFIX = '.json'


# ---------------------------------------------------------------- reading one clip
def _load_json(path: str) -> Any:
    """Parse a JSON file (with orjson when installed); ValueError naming the file if it is not JSON."""
    try:
        with open(path, 'rb') as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise FileNotFoundError(f'{path}: no such file') from None
    if _orjson is not None:
        try:
            return _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            pass  # the json module reads NaN/Infinity, which orjson refuses, and words the error
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f'{path}: not valid JSON ({exc})') from None


def _frames(clip: Any, path: str) -> list:
    if not isinstance(clip, dict) or not isinstance(clip.get('data'), list):
        raise ValueError(f'{path}: not a Kinetics-skeleton clip (expected an object with a "data" list '
                         'of {"frame_index", "skeleton"} frames)')
    return clip['data']


def _skeleton_list(frame: Any, path: str, position: int) -> list:
    if not isinstance(frame, dict) or not isinstance(frame.get('skeleton'), list):
        raise ValueError(f'{path}: data[{position}] has no "skeleton" list')
    return frame['skeleton']


def _pose_length(skeleton: Any, path: str) -> int:
    if not isinstance(skeleton, dict) or not isinstance(skeleton.get('pose'), list):
        raise ValueError(f'{path}: a skeleton has no "pose" list')
    return len(skeleton['pose'])


def clip_num_joints(path: str | os.PathLike, clip: Any = None) -> int | None:
    """V of a clip: ``len(pose) // 2`` of its first skeleton, or None when it has no skeleton."""
    path = os.fspath(path)
    clip = _load_json(path) if clip is None else clip
    for position, frame in enumerate(_frames(clip, path)):
        for skeleton in _skeleton_list(frame, path, position):
            length = _pose_length(skeleton, path)
            if length == 0 or length % 2:
                raise ValueError(f'{path}: data[{position}] has a pose of {length} values; '
                                 'expected x, y pairs (an even, non-zero count)')
            return length // 2
    return None


def find_num_joints(paths: Sequence[str | os.PathLike]) -> int:
    """V of a dataset: the joint count of the first clip (in order) that has a skeleton."""
    for path in paths:
        num_joints = clip_num_joints(path)
        if num_joints is not None:
            return num_joints
    raise ValueError(f'none of the {len(paths)} clips has a skeleton, so the joint count V cannot be read '
                     f'from the data (first clip: {os.fspath(paths[0]) if paths else "none"})')


def read_skeleton_json(path: str | os.PathLike, max_frame: int = 300, num_person_in: int = 5,
                       num_person_out: int = 2, V: int | None = None) -> tuple[np.ndarray, int | None]:
    """Read one clip into a float32 array of shape (3, max_frame, V, num_person_out).

    As the original feeder: at most ``num_person_in`` skeletons per frame are read; x and y
    are centred (minus 0.5) and set to 0 where the score is 0; in every frame the persons are
    sorted by their summed score and the ``num_person_out`` best are kept; frames missing from
    the clip stay zero. ``V=None`` reads V from the clip. Returns ``(data, label_index)``
    with label_index None when the clip has none. Raises ValueError naming the file for a
    malformed clip, a skeleton with another joint count than V, or a frame_index outside
    [0, max_frame).
    """
    path = os.fspath(path)
    clip = _load_json(path)
    frames = _frames(clip, path)
    if V is None:
        V = clip_num_joints(path, clip)
        if V is None:
            raise ValueError(f'{path}: the clip has no skeleton to read the joint count V from; pass V')

    frame_ids: list[int] = []
    person_ids: list[int] = []
    poses: list[list] = []
    scores: list[list] = []
    for position, frame in enumerate(frames):
        skeletons = _skeleton_list(frame, path, position)
        if not skeletons:
            continue
        frame_index = frame.get('frame_index')
        if not isinstance(frame_index, int) or isinstance(frame_index, bool):
            raise ValueError(f'{path}: data[{position}] has frame_index {frame_index!r}; expected an integer')
        for m, skeleton in enumerate(skeletons[:num_person_in]):
            if not isinstance(skeleton, dict) or 'pose' not in skeleton or 'score' not in skeleton:
                raise ValueError(f'{path}: frame_index {frame_index}: a skeleton lacks "pose" or "score"')
            frame_ids.append(frame_index)
            person_ids.append(m)
            poses.append(skeleton['pose'])
            scores.append(skeleton['score'])

    # (T, M_in, V, 3) while filling, so one fancy-indexed assignment writes every skeleton
    buffer = np.zeros((max_frame, num_person_in, V, 3), dtype=np.float64)
    if poses:
        t = np.asarray(frame_ids)
        if t.min() < 0 or t.max() >= max_frame:
            bad = int(t.max()) if t.max() >= max_frame else int(t.min())
            raise ValueError(f'{path}: frame_index {bad} is outside [0, {max_frame}); '
                             f'raise max_frame (--max_frame) to at least {bad + 1} or cut the clip shorter')
        pose = _as_matrix(poses, 2 * V, path, frame_ids, 'pose', V)    # (K, 2V)
        score = _as_matrix(scores, V, path, frame_ids, 'score', V)     # (K, V)
        buffer[t, np.asarray(person_ids)] = np.stack(
            [pose[:, 0::2], pose[:, 1::2], score], axis=-1)            # (K, V, 3)
    # contiguous (3, T, V, M_in), as the original's array: the score sums below then add up in
    # the same order and ties between persons break the same way
    data = np.ascontiguousarray(buffer.transpose(3, 0, 2, 1))

    # centralisation; joints with score 0 are (0, 0)
    data[0:2] -= 0.5
    missing = data[2] == 0
    data[0][missing] = 0
    data[1][missing] = 0

    # per frame, persons by decreasing summed score; keep the best num_person_out
    sort_index = (-data[2].sum(axis=1)).argsort(axis=1)[:, :num_person_out]  # (T, M_out)
    data = np.take_along_axis(data, sort_index[None, :, None, :], axis=3)        # (3, T, V, M_out)

    label_index = clip.get('label_index') if isinstance(clip, dict) else None
    if label_index is not None and (not isinstance(label_index, int) or isinstance(label_index, bool)):
        raise ValueError(f'{path}: label_index {label_index!r} is not an integer')
    return np.ascontiguousarray(data, dtype=np.float32), label_index


def _as_matrix(rows: list[list], width: int, path: str, frame_ids: list[int], key: str, V: int) -> np.ndarray:
    """Stack the skeletons' ``key`` lists into a (K, width) float array, naming the first bad one."""
    try:
        matrix = np.array(rows, dtype=np.float64)
        if matrix.ndim == 2 and matrix.shape[1] == width:
            return matrix
    except (ValueError, TypeError):
        pass
    for row, frame_index in zip(rows, frame_ids):
        if not isinstance(row, list) or len(row) != width:
            count = len(row) if isinstance(row, list) else type(row).__name__
            joints = f'{count // 2} joints' if key == 'pose' and isinstance(count, int) else f'{count} values'
            raise ValueError(f'{path}: frame_index {frame_index}: a skeleton has a {key} of {count} values '
                             f'({joints}), but the clips have V={V} joints ({width} {key} values)')
        try:
            np.array(row, dtype=np.float64)
        except (ValueError, TypeError):
            raise ValueError(f'{path}: frame_index {frame_index}: the {key} holds a non-numeric value') from None
    raise ValueError(f'{path}: cannot read the {key} values')


# ---------------------------------------------------------------- labels
def read_label_json(label_path: str | os.PathLike) -> dict[str, dict]:
    """The label file: {name: {"has_skeleton": bool, "label": str, "label_index": int}}."""
    label_path = os.fspath(label_path)
    info = _load_json(label_path)
    if not isinstance(info, dict):
        raise ValueError(f'{label_path}: expected an object {{name: {{"has_skeleton", "label", "label_index"}}}}')
    return info


def list_clips(data_path: str | os.PathLike) -> list[str]:
    """The ``.json`` file names in a clip folder, sorted."""
    data_path = os.fspath(data_path)
    if not os.path.isdir(data_path):
        raise FileNotFoundError(f'{data_path}: no such folder of Kinetics-skeleton clips')
    return sorted(name for name in os.listdir(data_path) if name.endswith(CLIP_SUFFIX))


def labelled_clips(data_path: str | os.PathLike, label_path: str | os.PathLike,
                   ignore_empty_sample: bool = True) -> tuple[list[str], list[int]]:
    """(clip file names, label indices) of a clip folder, sorted by name.

    Clips whose entry says ``has_skeleton: false`` are left out if ``ignore_empty_sample``.
    A clip without an entry in the label file is an error naming both.
    """
    label_path = os.fspath(label_path)
    names = list_clips(data_path)
    info = read_label_json(label_path)
    kept_names: list[str] = []
    labels: list[int] = []
    for name in names:
        sample_id = name[:-len(CLIP_SUFFIX)]
        entry = info.get(sample_id)
        if not isinstance(entry, dict):
            raise ValueError(f'{label_path}: no entry for clip {name!r} of {os.fspath(data_path)}')
        for key in ('has_skeleton', 'label_index'):
            if key not in entry:
                raise ValueError(f'{label_path}: entry {sample_id!r} has no {key!r} '
                                 '(expected "has_skeleton", "label", "label_index")')
        label_index = entry['label_index']
        if not isinstance(label_index, int) or isinstance(label_index, bool):
            raise ValueError(f'{label_path}: entry {sample_id!r} has label_index {label_index!r}; '
                             'expected an integer')
        if ignore_empty_sample and not entry['has_skeleton']:
            continue
        kept_names.append(name)
        labels.append(label_index)
    return kept_names, labels


def check_person_counts(num_person_in: int, num_person_out: int) -> None:
    if num_person_in < 1 or num_person_out < 1 or num_person_out > num_person_in:
        raise ValueError(f'num_person_out={num_person_out} must be between 1 and num_person_in={num_person_in}')


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
        normalize, center_joint, heading_joints, focal, random_individual_order, random_rotate, random_scale,
            channels, layout, bodyparts, frame_size: the per-sample preparation of
            :func:`feeder.transforms.build_transform`, applied last (the defaults leave the data as it is). Joints
            named without ``layout`` or ``bodyparts`` are looked up in the ``bodyparts`` list that
            ``tools/csv2json.py`` writes into each clip. With an egocentric ``normalize`` every clip is read once
            at construction and what the alignment does to the split is logged in one line.

    Items are ``(data, label)``: data float32 (C', T, V, num_person_out) with C' = ``self.transform.in_channels``
    (3 with the default preparation), label an int.
    """

    def __init__(self, data_path: str, label_path: str, ignore_empty_sample: bool = True,
                 random_choose: bool = False, random_shift: bool = False, random_move: bool = False,
                 window_size: int = -1, pose_matching: bool = False, num_person_in: int = 5,
                 num_person_out: int = 2, debug: bool = False, max_frame: int = 300, normalize: str = 'frame',
                 center_joint: int | str | None = None, heading_joints: Sequence[int | str] | None = None,
                 focal: int = 0, random_individual_order: bool = False,
                 random_rotate: float = 0.0, random_scale: float | Sequence[float] | None = None,
                 channels: Sequence[str] | str = ('xy_score',), layout: str | Mapping[str, Any] | None = None,
                 bodyparts: Sequence[str] | None = None, frame_size: Sequence[float] | None = None) -> None:
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
        named = [j for j in [center_joint, *(heading_joints or [])] if isinstance(j, str) and not j.isdigit()]
        if named and layout is None and bodyparts is None:
            bodyparts = clip_bodyparts(os.path.join(self.data_path, self.sample_name[0]))
        self.transform = build_transform(normalize=normalize, center_joint=center_joint,
                                         heading_joints=heading_joints, focal=focal,
                                         random_individual_order=random_individual_order, random_rotate=random_rotate,
                                         random_scale=random_scale, channels=channels, layout=layout,
                                         bodyparts=bodyparts, frame_size=frame_size)
        if normalize != 'frame':  # the audit reads every clip once
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

    def top_k(self, score: np.ndarray, top_k: int) -> float:
        """Top-k accuracy of an (N, num_class) score array over this dataset's labels."""
        return tools.top_k(score, top_k, self.label)


def clip_bodyparts(path: str | os.PathLike) -> list[str] | None:
    """The ``bodyparts`` names a clip carries (written by ``tools/csv2json.py``), or None."""
    clip = _load_json(os.fspath(path))
    names = clip.get('bodyparts') if isinstance(clip, dict) else None
    if isinstance(names, list) and all(isinstance(name, str) for name in names):
        return names
    return None


def read_labelled_clip(item: tuple[str, int], max_frame: int, num_person_in: int, num_person_out: int,
                       V: int) -> tuple[np.ndarray, int]:
    """``read_skeleton_json`` for ``item = (path, label)``, checking the clip's own label_index.

    Module-level so that a ``functools.partial`` of it can go to worker processes.
    """
    path, label = item
    data, clip_label = read_skeleton_json(path, max_frame, num_person_in, num_person_out, V=V)
    if clip_label is not None and clip_label != label:
        raise ValueError(f'{path}: label_index {clip_label} differs from {label} in the label file')
    return data, label
