"""Kinetics-skeleton JSON clips: the interchange format of the DeepLabCut pipeline, written and read here only.

A clip is ``{"data": [{"frame_index": t, "skeleton": [{"pose": [x0, y0, x1, y1, ...], "score": [s0, s1, ...]},
...]}, ...], "label": str, "label_index": int}``; ``tools/csv2json.py`` adds ``bodyparts``, ``masked_fraction``,
``frame_size``, ``input`` (the preprocessing options, see :class:`feeder.model_input.InputSpec`) and ``source``
(file, recording, individual names, first and last frame). The label file of a split is ``{name: {"has_skeleton":
bool, "label": str, "label_index": int}}`` with ``name`` the clip's file name without ``.json``; a dataset folder also
holds ``classes.txt`` (one class name per line, in label_index order).

Writing (csv2json): :func:`clip_windows`, :func:`clip_name`, :func:`clip_to_json_text`. Reading (gen_trainDataset,
kinetics_gendata, the feeders, visualize): :func:`load_json`, :func:`read_skeleton_json`, :func:`labelled_clips`.
Poses and scores are written with :data:`feeder.model_input.DECIMALS` decimals, and the reader centres and masks
them with :func:`feeder.model_input.centre_and_mask`, so a clip read back is exactly what ``main.py demo`` computes
for the same frames.

Shapes: C = 3 channels (x, y, score), T = ``max_frame`` frames, V joints (read from the data: ``len(pose) // 2`` of
the first skeleton found), M persons.
"""
from __future__ import annotations

import json
import logging
import os
import re
from typing import Any, Mapping, Sequence

import numpy as np

from .model_input import DECIMALS, centre_and_mask, quantise

try:  # optional: parses a clip about 5x faster than the json module; same values
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

logger = logging.getLogger(__name__)

CLIP_SUFFIX = '.json'


# ---------------------------------------------------------------- reading one clip
def load_json(path: str | os.PathLike) -> Any:
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
    clip = load_json(path) if clip is None else clip
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


def _skeletons(frames: list, path: str, num_person_in: int | None = None
               ) -> tuple[list[int], list[int], list[list], list[list]]:
    """(frame_index, person slot, pose list, score list) of every skeleton of a clip's frames, in order; at most
    ``num_person_in`` per frame (all when None)."""
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
    return frame_ids, person_ids, poses, scores


def read_clip_frames(path: str | os.PathLike) -> tuple[list[int], np.ndarray, np.ndarray, dict]:
    """A clip as it is stored, for drawing: ``(frame numbers, xy, score, clip)``, one frame per entry of ``data`` in
    frame_index order, persons in their listed order; ``xy`` (T, V, M, 2) in [0, 1] (not centred), ``score``
    (T, V, M), M the most persons of any frame (zeros where a frame has fewer)."""
    path = os.fspath(path)
    clip = load_json(path)
    frames = _frames(clip, path)
    if not frames:
        raise ValueError(f'{path}: "data" holds no frames')
    V = clip_num_joints(path, clip)
    if V is None:
        raise ValueError(f'{path}: no frame holds a skeleton')
    frame_ids, person_ids, poses, scores = _skeletons(frames, path)
    pose = _as_matrix(poses, 2 * V, path, frame_ids, 'pose', V)              # (K, 2V)
    score = _as_matrix(scores, V, path, frame_ids, 'score', V)               # (K, V)
    numbers = sorted({int(frame.get('frame_index', i)) for i, frame in enumerate(frames)})
    row = {number: t for t, number in enumerate(numbers)}
    M = max(person_ids) + 1
    xy_out = np.zeros((len(numbers), V, M, 2))                               # (T, V, M, 2)
    score_out = np.zeros((len(numbers), V, M))                               # (T, V, M)
    t = np.array([row[f] for f in frame_ids], dtype=np.intp)
    m = np.asarray(person_ids, dtype=np.intp)
    xy_out[t, :, m] = pose.reshape(len(pose), V, 2)
    score_out[t, :, m] = score
    return numbers, xy_out, score_out, clip


def read_skeleton_json(path: str | os.PathLike, max_frame: int = 300, num_person_in: int = 5,
                       num_person_out: int = 2, V: int | None = None, clip: Any = None
                       ) -> tuple[np.ndarray, int | None]:
    """Read one clip into a float32 array of shape (3, max_frame, V, num_person_out).

    As the original feeder: at most ``num_person_in`` skeletons per frame are read; x and y
    are centred (minus 0.5) and set to 0 where the score is 0 (:func:`centre_and_mask`); in
    every frame the persons are sorted by their summed score and the ``num_person_out`` best are
    kept; frames missing from the clip stay zero. Clips of tracked individuals (those written by
    csv2json, which name them in ``source.individual_names``) keep their individuals in the
    file's order instead, the same in every frame (the ``num_person_out`` with the highest score
    over the clip when there are more). ``V=None`` reads V from the clip. Returns ``(data, label_index)``
    with label_index None when the clip has none. Raises ValueError naming the file for a
    malformed clip, a skeleton with another joint count than V, or a frame_index outside
    [0, max_frame). ``clip``: the parsed content of ``path`` when the caller has read it already.
    """
    path = os.fspath(path)
    clip = load_json(path) if clip is None else clip
    frames = _frames(clip, path)
    if V is None:
        V = clip_num_joints(path, clip)
        if V is None:
            raise ValueError(f'{path}: the clip has no skeleton to read the joint count V from; pass V')

    frame_ids, person_ids, poses, scores = _skeletons(frames, path, num_person_in)

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

    if tracked_individuals(clip):
        # tracked individuals (csv2json clips): slots keep the file's order over the whole clip, so an animal is
        # the same slot in every frame; with more individuals than num_person_out, the best-scoring over the clip
        keep = np.sort((-data[2].sum(axis=(0, 1))).argsort(kind='stable')[:num_person_out])  # (M_out,)
        data = data[..., keep]                                                   # (3, T, V, M_out)
    else:
        # untracked persons (OpenPose): per frame, persons by decreasing summed score; keep the best num_person_out
        sort_index = (-data[2].sum(axis=1)).argsort(axis=1)[:, :num_person_out]  # (T, M_out)
        data = np.take_along_axis(data, sort_index[None, :, None, :], axis=3)    # (3, T, V, M_out)
    data = centre_and_mask(data)  # x, y minus 0.5 and 0 where the score is 0 (the model's input contract)

    label_index = clip.get('label_index') if isinstance(clip, dict) else None
    if label_index is not None and (not isinstance(label_index, int) or isinstance(label_index, bool)):
        raise ValueError(f'{path}: label_index {label_index!r} is not an integer')
    return np.ascontiguousarray(data), label_index


def tracked_individuals(clip: Any) -> list[str] | None:
    """The individual names of a clip of tracked individuals (csv2json's ``source.individual_names``), or None."""
    source = clip.get('source') if isinstance(clip, dict) else None
    names = source.get('individual_names') if isinstance(source, dict) else None
    return list(names) if isinstance(names, list) and names else None


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
    info = load_json(label_path)
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



def clip_bodyparts(path: str | os.PathLike) -> list[str] | None:
    """The ``bodyparts`` names a clip carries (written by ``tools/csv2json.py``), or None."""
    clip = load_json(os.fspath(path))
    names = clip.get('bodyparts') if isinstance(clip, dict) else None
    if isinstance(names, list) and all(isinstance(name, str) for name in names):
        return names
    return None


def clip_input_options(clip: Any) -> dict[str, Any]:
    """What a csv2json clip says about its preprocessing: ``bodyparts``, ``frame_size`` and the ``input`` options
    (pcutoff, max_gap, fps, single, frame_size: None when the size was read per recording, which overrides the
    clip's own), and ``aspect``, the height / width of the clip's frame size; empty for clips that say nothing (the
    published Kinetics clips)."""
    if not isinstance(clip, dict):
        return {}
    options = {key: clip[key] for key in ('bodyparts', 'frame_size') if key in clip}
    size = clip.get('frame_size')
    if isinstance(size, list) and len(size) == 2 and all(isinstance(v, (int, float)) and v > 0 for v in size):
        options['aspect'] = round(size[1] / size[0], 6)   # what the clip was divided by, whatever its origin
    if isinstance(clip.get('input'), dict):
        options.update(clip['input'])
    return options


def clip_frame_labels(clip: Any, label: int, max_frame: int, path: str = '') -> np.ndarray:
    """(max_frame,) int16 class of every frame of a clip: its ``frame_labels`` (csv2json clips of annotated
    recordings; -1 unlabelled) by frame_index, else ``label`` for every frame the clip has; -1 past its end."""
    frames = _frames(clip, path)
    out = np.full(max_frame, -1, dtype=np.int16)
    labels = clip.get('frame_labels') if isinstance(clip, dict) else None
    if labels is not None:
        if not isinstance(labels, list) or len(labels) != len(frames):
            raise ValueError(f'{path}: "frame_labels" must list one class index per frame ({len(frames)} frames)')
        for position, frame in enumerate(frames):
            index = frame.get('frame_index', position) if isinstance(frame, dict) else position
            if isinstance(index, int) and 0 <= index < max_frame:
                out[index] = int(labels[position])
        return out
    out[:min(len(frames), max_frame)] = label
    return out


def read_labelled_clip(item: tuple[str, int], max_frame: int, num_person_in: int, num_person_out: int,
                       V: int) -> tuple[np.ndarray, tuple[int, dict[str, Any], np.ndarray, bool]]:
    """``read_skeleton_json`` for ``item = (path, label)``, checking the clip's own label_index; returns
    ``(data, (label, clip_input_options(clip), clip_frame_labels(...), whether the clip has frame_labels))``.

    Module-level so that a ``functools.partial`` of it can go to worker processes.
    """
    path, label = item
    clip = load_json(path)
    data, clip_label = read_skeleton_json(path, max_frame, num_person_in, num_person_out, V=V, clip=clip)
    if clip_label is not None and clip_label != label:
        raise ValueError(f'{path}: label_index {clip_label} differs from {label} in the label file')
    return data, (label, clip_input_options(clip), clip_frame_labels(clip, label, max_frame, path),
                  isinstance(clip, dict) and 'frame_labels' in clip)


# ---------------------------------------------------------------- clips: cutting and writing
def clip_windows(num_frames: int, clip_len: int, stride: int, min_len: int = 1) -> list[tuple[int, int]]:
    """(start, end) frame windows, end exclusive: every ``stride`` frames a ``clip_len`` clip.

    After the last full clip, the next (partial) window is kept if it holds at least half a clip.
    A recording (or bout) shorter than a clip gives one window of all its frames if it holds at least
    ``min_len`` frames (``kinetics_gendata`` pads it to the clip length, as the original did for short
    Kinetics clips).
    """
    if clip_len <= 0 or stride <= 0:
        raise ValueError(f'clip_len and stride must be positive frames, got {clip_len} and {stride}')
    if num_frames < clip_len:
        return [(0, num_frames)] if num_frames >= max(1, min_len) else []
    windows = []
    start = 0
    while start + clip_len <= num_frames:
        windows.append((start, start + clip_len))
        start += stride
    if start < num_frames and num_frames - start >= clip_len / 2 and num_frames > windows[-1][1]:
        windows.append((start, num_frames))
    return windows


def _clip_meta(label: str, label_index: int, bodyparts: Sequence[str],
               frame_size_wh: tuple[float, float], source_file: str, recording: str,
               individual_names: Sequence[str], start_frame: int, num_frames: int,
               score: np.ndarray, input_options: Mapping[str, Any] | None,
               frame_labels: np.ndarray | None = None) -> dict:
    masked = float(np.mean(score <= 0)) if score.size else 1.0
    meta = {
        'label': label,
        'label_index': int(label_index),
        'bodyparts': list(bodyparts),
        'masked_fraction': round(masked, 6),
        'frame_size': [float(frame_size_wh[0]), float(frame_size_wh[1])],
        'source': {'file': source_file, 'recording': recording,
                   'individual_names': list(individual_names),
                   'start_frame': int(start_frame), 'end_frame': int(start_frame + num_frames - 1)},
    }
    if input_options is not None:
        meta['input'] = dict(input_options)
    if frame_labels is not None:
        meta['frame_labels'] = [int(v) for v in frame_labels]
    return meta


def clip_to_kinetics_json(pose: np.ndarray, score: np.ndarray, label: str, label_index: int,
                          bodyparts: Sequence[str], frame_size_wh: tuple[float, float],
                          source_file: str, recording: str, individual_names: Sequence[str],
                          start_frame: int, decimals: int = DECIMALS,
                          input_options: Mapping[str, Any] | None = None,
                          frame_labels: np.ndarray | None = None) -> dict:
    """One clip as a Kinetics-skeleton dict.

    Args:
        pose: (T, I, V, 2) frame-relative coordinates of the clip's frames.
        score: (T, I, V) scores (0 = masked).
        start_frame: index of the clip's first frame in the recording (frame_index restarts at 0);
            the dict's ``source.end_frame`` is the clip's last frame, inclusive.
        decimals: poses and scores are rounded to this many decimals.
        input_options: the preprocessing options (pcutoff, max_gap, fps, single), kept as ``input``.
        frame_labels: (T,) class index of every frame (-1 unlabelled), kept as ``frame_labels`` (annotated
            recordings; the per-frame model trains on them).

    Every frame lists every individual, in ``individual_names`` order, zeros where missing.
    ``{"data": [{"frame_index": t, "skeleton": [{"pose": [x0, y0, x1, y1, ...],
    "score": [s0, s1, ...]}, ...]}, ...], "label", "label_index", "bodyparts",
    "masked_fraction", "frame_size": [w, h], "source": {...}, "input": {...}}``.
    """
    T, I, V, _ = pose.shape
    scale = 10.0 ** decimals
    flat = (quantise(pose.reshape(T, I, V * 2), decimals) / scale).tolist()  # (T, I, 2V): x0 y0 x1 y1
    scores = (quantise(score, decimals) / scale).tolist()                     # (T, I, V)
    data = [{'frame_index': t,
             'skeleton': [{'pose': p, 'score': s} for p, s in zip(flat[t], scores[t])]}
            for t in range(T)]
    meta = _clip_meta(label, label_index, bodyparts, frame_size_wh, source_file, recording,
                      individual_names, start_frame, T, score, input_options, frame_labels)
    return {'data': data, **meta}


_TOKEN_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _number_tokens(decimals: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """JSON texts of k / 10**decimals for k in 0..10**decimals as ``S<width>`` bytes, without and
    with a trailing comma (the width of the token array, so that gathering is a plain copy)."""
    if (decimals, width) not in _TOKEN_CACHE:
        scale = 10.0 ** decimals
        plain = [repr(k / scale).encode('ascii') for k in range(int(scale) + 1)]
        _TOKEN_CACHE[(decimals, width)] = (np.array(plain, dtype=f'S{width}'),
                                           np.array([t + b',' for t in plain], dtype=f'S{width}'))
    return _TOKEN_CACHE[(decimals, width)]


_HEAD_CACHE: dict[int, np.ndarray] = {}


def _frame_heads(num_frames: int) -> np.ndarray:
    """Bytes 't,"skeleton":[' for t in 0..num_frames-1 (cached: most clips share one length)."""
    if num_frames not in _HEAD_CACHE:
        if len(_HEAD_CACHE) > 16:
            _HEAD_CACHE.clear()
        _HEAD_CACHE[num_frames] = np.array([f'{t},"skeleton":['.encode('ascii')
                                            for t in range(num_frames)])
    return _HEAD_CACHE[num_frames]


def clip_to_json_text(pose: np.ndarray, score: np.ndarray, label: str, label_index: int,
                      bodyparts: Sequence[str], frame_size_wh: tuple[float, float],
                      source_file: str, recording: str, individual_names: Sequence[str],
                      start_frame: int, decimals: int = DECIMALS,
                      input_options: Mapping[str, Any] | None = None,
                      frame_labels: np.ndarray | None = None) -> str:
    """The compact JSON text of :func:`clip_to_kinetics_json`, built without per-number Python work.

    Every number of a clip lies in [0, 1] with ``decimals`` decimals, so each has one of
    10**decimals + 1 texts. The clip is laid out as a (T, tokens per frame) array of fixed-width
    byte strings gathered from that table with numpy indexing; dropping the NUL padding of the
    flattened bytes gives the text. ``json.loads`` of the result equals the dict of
    :func:`clip_to_kinetics_json`; values outside [0, 1] fall back to ``json.dumps``.
    """
    T, I, V, _ = pose.shape
    q_pose = quantise(pose.reshape(T, I, V * 2), decimals)                    # (T, I, 2V)
    q_score = quantise(score, decimals)                                       # (T, I, V)
    top = int(10 ** decimals)
    if (T == 0 or V == 0 or q_pose.min(initial=0) < 0 or q_pose.max(initial=0) > top
            or q_score.min(initial=0) < 0 or q_score.max(initial=0) > top):
        return dump_json(clip_to_kinetics_json(pose, score, label, label_index, bodyparts,
                                               frame_size_wh, source_file, recording,
                                               individual_names, start_frame, decimals, input_options,
                                               frame_labels))
    heads = _frame_heads(T)
    width = max(16, heads.dtype.itemsize, decimals + 4)          # fits '0.12345,' and the heads
    plain, comma = _number_tokens(decimals, width)
    # one row of tokens per frame: '{"frame_index":' 't,"skeleton":[' then per individual
    # '{"pose":[' x0, y0, ... '],"score":[' s0, ... ']}' (',' between individuals) then ']}'
    per_ind = 1 + 2 * V + 1 + V + 1
    tokens = np.zeros((T, 3 + I * per_ind), dtype=f'S{width}')               # (T, tokens per frame)
    tokens[:, 0] = b'{"frame_index":'
    tokens[:, 1] = heads
    for i in range(I):
        col = 2 + i * per_ind
        tokens[:, col] = b'{"pose":['
        tokens[:, col + 1:col + 2 * V] = comma[q_pose[:, i, :-1]]
        tokens[:, col + 2 * V] = plain[q_pose[:, i, -1]]
        tokens[:, col + 2 * V + 1] = b'],"score":['
        tokens[:, col + 2 * V + 2:col + 3 * V + 1] = comma[q_score[:, i, :-1]]
        tokens[:, col + 3 * V + 1] = plain[q_score[:, i, -1]]
        tokens[:, col + 3 * V + 2] = b']},' if i < I - 1 else b']}'
    tokens[:, -1] = b']},'
    tokens[-1, -1] = b']}'
    raw = tokens.view(np.uint8).ravel()                                       # (T * tokens * width,)
    body = raw[raw != 0].tobytes().decode('ascii')
    meta = _clip_meta(label, label_index, bodyparts, frame_size_wh, source_file, recording,
                      individual_names, start_frame, T, score, input_options, frame_labels)
    return '{"data":[' + body + '],' + dump_json(meta)[1:]


# ------------------------------------------------------------------ clip file names
_CLIP_NAME = re.compile(r'^(?P<label>.+?)__(?P<recording>.+)__(?P<clip>\d+)(?:__aug(?P<aug>\d+))?$')


def check_label(label: str, where: str = '') -> str:
    """A class name usable in file names: non-empty, no '__', no path separator."""
    text = str(label).strip()
    if not text or '__' in text or '/' in text or '\\' in text or text in ('.', '..'):
        raise ValueError(f'class name {label!r}{" in " + where if where else ""} is not allowed: it must '
                         'be non-empty and contain neither "__" nor a path separator')
    return text


def clip_name(label: str, recording: str, clip: int, aug: int = 0, width: int = 4) -> str:
    """``<label>__<recording>__<clip>[__aug<k>]`` (no extension); the clip index zero-padded."""
    name = f'{label}__{recording}__{clip:0{width}d}'
    return f'{name}__aug{aug}' if aug else name


def parse_clip_name(name: str) -> dict:
    """Inverse of :func:`clip_name` (a trailing ``.json`` is ignored).

    Returns ``{'label', 'recording', 'clip', 'aug'}`` (``aug`` 0 for an original clip).
    """
    stem = name[:-5] if name.endswith('.json') else name
    match = _CLIP_NAME.match(stem)
    if match is None:
        raise ValueError(f'{name}: not a clip name of the form <class>__<recording>__<clip>[__aug<k>].json')
    return {'label': match['label'], 'recording': match['recording'], 'clip': int(match['clip']),
            'aug': int(match['aug'] or 0)}


def read_classes(path: str | os.PathLike, file_names: bool = True, what: str = 'classes file') -> list[str]:
    """Class names from a ``classes.txt`` or ``label_name.txt`` (one per line; blank lines and ``#`` comments
    skipped; no name twice). ``file_names``: the names must be usable in clip file names (:func:`check_label`),
    as csv2json's are; published label files (NTU's 'put on a hat/cap') need not be. ``what`` names the file in
    the error for a missing one."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such {what}')
    with open(path, 'r', encoding='utf-8') as handle:
        names = [line.strip() for line in handle]
    names = [n for n in names if n and not n.startswith('#')]
    if not names:
        raise ValueError(f'{path}: no class names (expected one name per line)')
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f'{path}: repeats class name(s) {", ".join(duplicates)}')
    for n in names if file_names else ():
        check_label(n, path)
    return names


def dump_json(obj: dict) -> str:
    """Compact JSON text (no spaces: clips are many and read by machines)."""
    return json.dumps(obj, separators=(',', ':'))

