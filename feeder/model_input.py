"""How pose arrays become model input: the one place where the preprocessing is defined.

Training data and inference take the same path, so a model sees a recording exactly as it saw its training clips:

    pose file --dlc_io.read_pose_file--> PoseRecording (pixels, T frames, I individuals, V bodyparts)
      1. dlc_io.select_bodyparts       node order of the graph
      2. fill_gaps                     points under pcutoff interpolated over gaps of at most ``max_gap`` frames
      3. normalise_xy                  x / width, y / height in [0, 1]; points under pcutoff: pose 0, 0 and score 0
      4. quantise                      DECIMALS decimals (the precision of the Kinetics-skeleton JSON clips)
      5. centre_and_mask               x, y minus 0.5 (the original's centring); x = y = 0 where the score is 0
      6. feeder.transforms             the per-sample preparation (egocentric alignment, channels, ...)

Steps 1-3 are :func:`prepare_pose`; 4-5 are :func:`model_array`. ``tools/csv2json.py`` runs 1-4 and writes the
JSON clips (``feeder.kinetics_json``), whose reader runs 5 on what it reads (``tools/kinetics_gendata.py`` stores the
result; the feeders apply 6); ``main.py demo`` runs 1-5 on whole recordings and then the same transform, so both
give bit-identical model input for the same frames.

:class:`InputSpec` records the choices made at steps 1-6 (bodyparts, pcutoff, max_gap, frame size, fps, clip length,
individuals, transform); ``tools/kinetics_gendata.py`` writes the data's part of it beside the arrays, and training
stores the whole spec in every model file, so that ``main.py demo --weights best_model.pt`` needs no config.

Array conventions: ``xy`` float32 (T, I, V, 2) pixels, NaN where missing; ``score`` float32 (T, I, V) likelihood, 0
where missing; model arrays (C, T, V, M) with C = 3 (x, y, score).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
from typing import Any, Mapping, Sequence

import numpy as np

from torchlight import atomic_write

from . import dlc_io
from .dlc_io import PoseRecording

logger = logging.getLogger(__name__)

DECIMALS = 5          # decimals of poses and scores in the JSON clips, and so in every model input
DEFAULT_MAX_GAP = 5   # frames: longer runs of points under pcutoff stay masked
META_FORMAT = 'st-gcn-data/1'


# ------------------------------------------------------------------ steps 2-3: pixels -> frame-relative
def masked_points(xy: np.ndarray, score: np.ndarray, pcutoff: float) -> np.ndarray:
    """Boolean (T, I, V): likelihood below ``pcutoff``, zero, NaN, or a non-finite coordinate."""
    return ~(score >= pcutoff) | (score <= 0) | ~np.isfinite(xy).all(axis=-1)


def fill_gaps(xy: np.ndarray, score: np.ndarray, pcutoff: float, max_gap: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of masked points over gaps of at most ``max_gap`` frames, per individual and bodypart.

    A gap is a run of frames where the point is masked (:func:`masked_points`) with a visible point on both sides;
    longer gaps, and gaps at the start or end of the recording, stay masked. An interpolated point's score is the
    linear interpolation of the two visible scores around the gap (so it is at least ``pcutoff``).

    Args:
        xy: (T, I, V, 2) pixels; score: (T, I, V).
        max_gap: the longest gap filled, in frames; 0 fills nothing.

    Returns new arrays (the inputs are not modified).
    """
    if max_gap < 0:
        raise ValueError(f'--max_gap must be 0 or more frames, got {max_gap}')
    xy = np.array(xy, dtype=np.float32, copy=True)
    score = np.array(score, dtype=np.float32, copy=True)
    if max_gap == 0 or len(xy) < 3:
        return xy, score
    T = len(xy)
    valid = ~masked_points(xy, score, pcutoff).reshape(T, -1)               # (T, I*V)
    frames = np.arange(T)[:, None]
    before = np.maximum.accumulate(np.where(valid, frames, -1), axis=0)     # last visible frame at or before t
    after = np.minimum.accumulate(np.where(valid, frames, T)[::-1], axis=0)[::-1]  # first visible at or after t
    fill = ~valid & (before >= 0) & (after < T) & (after - before - 1 <= max_gap)   # (T, I*V)
    if not fill.any():
        return xy, score
    t, n = np.nonzero(fill)
    lo, hi = before[t, n], after[t, n]
    weight = ((t - lo) / (hi - lo)).astype(np.float32)                     # (K,)
    flat_xy = xy.reshape(T, -1, 2)                                          # (T, I*V, 2), a view
    flat_score = score.reshape(T, -1)                                       # (T, I*V), a view
    flat_xy[t, n] = flat_xy[lo, n] + weight[:, None] * (flat_xy[hi, n] - flat_xy[lo, n])
    flat_score[t, n] = flat_score[lo, n] + weight * (flat_score[hi, n] - flat_score[lo, n])
    return xy, score


def resample_positions(num_frames: int, fps_in: float, fps_out: float) -> np.ndarray:
    """Positions (in input frames, float64) of the frames of a recording resampled from ``fps_in`` to ``fps_out``:
    output frame k shows time k / fps_out, i.e. input position k * fps_in / fps_out, up to the last input frame."""
    if fps_in <= 0 or fps_out <= 0:
        raise ValueError(f'frame rates must be positive, got {fps_in} and {fps_out}')
    count = int(np.floor((num_frames - 1) * fps_out / fps_in + 1e-9)) + 1 if num_frames else 0
    return np.arange(count) * (fps_in / fps_out)


def resample(xy: np.ndarray, score: np.ndarray, fps_in: float, fps_out: float, pcutoff: float = 0.6
             ) -> tuple[np.ndarray, np.ndarray]:
    """Poses at another frame rate: (T', I, V, 2) pixels and (T', I, V) scores at ``fps_out``.

    Linear interpolation between the two input frames around each output time where the point is visible in
    both; where it is visible in one only, that frame's value when it is the nearer one; otherwise masked (NaN,
    score 0). Equal rates return the inputs unchanged.
    """
    if fps_in == fps_out:
        return xy, score
    position = resample_positions(len(xy), fps_in, fps_out)                      # (T',)
    left = np.minimum(np.floor(position).astype(np.intp), len(xy) - 1)           # (T',)
    right = np.minimum(left + 1, len(xy) - 1)
    weight = (position - left)[:, None, None]                                    # (T', 1, 1)
    visible = ~masked_points(xy, score, pcutoff)                                 # (T, I, V)
    nearest = np.where(weight[:, 0, 0] < 0.5, left, right)                       # (T',)
    both = visible[left] & visible[right]                                        # (T', I, V)
    keep = both | visible[nearest]
    out_xy = np.where(both[..., None], xy[left] + weight[..., None] * (xy[right] - xy[left]), xy[nearest])
    out_score = np.where(both, score[left] + weight * (score[right] - score[left]), score[nearest])
    out_xy = np.where(keep[..., None], out_xy, np.nan).astype(np.float32)       # (T', I, V, 2)
    out_score = np.where(keep, out_score, 0.0).astype(np.float32)               # (T', I, V)
    return out_xy, out_score


def resample_labels(labels: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Per-frame labels (T,) at ``fps_out``: each output frame takes the label of the nearest input frame."""
    if fps_in == fps_out:
        return labels
    position = resample_positions(len(labels), fps_in, fps_out)
    return labels[np.minimum(np.rint(position).astype(np.intp), len(labels) - 1)]


def normalise_xy(xy: np.ndarray, score: np.ndarray, width: float, height: float,
                 pcutoff: float = 0.6, source: str = '', warn_outside: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Frame-relative poses and scores from pixel arrays.

    Args:
        xy: (T, I, V, 2) pixel coordinates (NaN = missing).
        score: (T, I, V) likelihoods (0 = missing).
        width, height: the frame size in pixels.
        pcutoff: points with likelihood below it are masked.
        source: the file name used in the warning about points outside the frame.

    Returns:
        pose: float32 (T, I, V, 2), x / width and y / height clipped to [0, 1]; masked points 0, 0.
        score: float32 (T, I, V), the likelihood, 0 for masked points.
    """
    if not 0 <= pcutoff <= 1:
        raise ValueError(f'pcutoff must lie in [0, 1], got {pcutoff}')
    mask = masked_points(xy, score, pcutoff)                          # (T, I, V)
    scale = np.array([width, height], dtype=np.float32)
    pose = (xy / scale).astype(np.float32)                            # (T, I, V, 2)
    pose[mask] = 0.0
    outside = (pose < 0) | (pose > 1)
    if outside.any():
        if warn_outside:
            logger.warning('%s: %d coordinates lie outside the %gx%g frame; clipped to its edge',
                           source, int(outside.sum()), width, height)
        np.clip(pose, 0.0, 1.0, out=pose)
    out_score = np.where(mask, 0.0, score).astype(np.float32)
    return pose, out_score


@dataclasses.dataclass
class PreparedPose:
    """Steps 2-3 of one recording: frame-relative ``pose`` (T, I, V, 2) and ``score`` (T, I, V), the gap-filled
    pixel arrays they came from (``xy`` (T, I, V, 2), ``xy_score`` (T, I, V)), and the fractions of points masked
    before and after the gap filling."""
    pose: np.ndarray
    score: np.ndarray
    xy: np.ndarray
    xy_score: np.ndarray
    masked_before: float
    masked_after: float

    def describe(self) -> str:
        """'12.3% of points masked, 4.5% after filling gaps' for a recording's log line."""
        return (f'{100 * self.masked_before:.1f}% of points masked, {100 * self.masked_after:.1f}% after filling '
                'gaps')


def prepare_pose(xy: np.ndarray, score: np.ndarray, width: float, height: float, pcutoff: float = 0.6,
                 max_gap: int = DEFAULT_MAX_GAP, source: str = '', fps: float | None = None,
                 target_fps: float | None = None) -> PreparedPose:
    """Steps 2-3 for a recording's pixel arrays (see :class:`PreparedPose`); with ``fps`` and a different
    ``target_fps``, the gap-filled poses are resampled (:func:`resample`) before normalising."""
    masked_before = float(masked_points(xy, score, pcutoff).mean()) if score.size else 0.0
    xy, xy_score = fill_gaps(xy, score, pcutoff, max_gap)
    if target_fps is not None and fps is not None:
        xy, xy_score = resample(xy, xy_score, fps, target_fps, pcutoff)
    pose, norm_score = normalise_xy(xy, xy_score, width, height, pcutoff, source=source)
    masked_after = float(np.mean(norm_score <= 0)) if norm_score.size else 0.0
    return PreparedPose(pose, norm_score, xy, xy_score, masked_before, masked_after)


@dataclasses.dataclass
class Recording:
    """A pose file after steps 1-3: the file as read (``rec``, bodyparts selected), its prepared poses, the
    frame size it was divided by with where that came from ('given', 'video <path>' or 'coordinate range'), the
    file's frame rate ``source_fps`` and the rate of the prepared poses ``fps`` (None when unknown), which differ
    when the poses were resampled."""
    rec: PoseRecording
    prepared: PreparedPose
    frame_size: tuple[float, float]
    frame_size_origin: str
    source_fps: float | None = None
    fps: float | None = None

    @property
    def resampled(self) -> bool:
        return self.fps is not None and self.source_fps is not None and self.fps != self.source_fps

    def source_positions(self) -> np.ndarray:
        """For every frame of the file, its position (float) in the prepared frames (to map results back)."""
        scale = self.fps / self.source_fps if self.resampled else 1.0
        return np.arange(self.rec.num_frames) * scale

    def model_array(self) -> np.ndarray:
        """Steps 4-5 of the whole recording: (3, T, V, I) float32."""
        return model_array(self.prepared.pose, self.prepared.score)


def load_recording(path: str, bodyparts: Sequence[str] | None = None, single: str = 'attach',
                   pcutoff: float = 0.6, max_gap: int = DEFAULT_MAX_GAP, width: float | None = None,
                   height: float | None = None, video_dir: str | None = None, video: str | None = None,
                   fps: float | None = None, target_fps: float | None = None,
                   rename: Mapping[str, str] | None = None) -> Recording:
    """Steps 1-3 for a pose file (what csv2json and ``main.py demo`` both do). The frame size: ``width`` and
    ``height``, else ``video``, else what the file states, else the video of the same name in ``video_dir``, else
    the coordinate range (with a warning). ``fps``: the file's frame rate when known (else what the file states,
    as NWB does); with ``target_fps`` too, the poses are resampled to that rate (a ValueError when the rate is
    unknown)."""
    rec = dlc_io.select_bodyparts(dlc_io.read_pose_file(path, single=single), bodyparts, rename)
    w, h, origin = dlc_io.frame_size(rec, width, height, video_dir, video)
    if fps is None and rec.extra.get('fps'):  # the pose file says (NWB)
        fps = float(rec.extra['fps'])
    if target_fps is not None and fps is None:
        raise ValueError(f'{path}: resampling to {target_fps:g} fps needs the recording\'s frame rate (give --fps)')
    prepared = prepare_pose(rec.xy, rec.score, w, h, pcutoff, max_gap, rec.source, fps, target_fps)
    return Recording(rec, prepared, (w, h), origin, source_fps=fps, fps=target_fps if target_fps else fps)


# ------------------------------------------------------------------ steps 4-5: frame-relative -> model array
def quantise(values: np.ndarray, decimals: int = DECIMALS) -> np.ndarray:
    """The integers ``round(values * 10**decimals)`` (float64 arithmetic), as int64: the JSON clips' numbers."""
    return np.rint(np.asarray(values, dtype=np.float64) * 10.0 ** decimals).astype(np.int64)


def centre_and_mask(data: np.ndarray) -> np.ndarray:
    """(3, T, V, M) x, y, score in [0, 1] (any float dtype) -> float32 with x, y minus 0.5 and x = y = 0 where the
    score is 0, computed in float64 before the one cast, as the original's reader did."""
    data = np.array(data, dtype=np.float64, copy=True)
    data[0:2] -= 0.5
    missing = data[2] == 0                                           # (T, V, M)
    data[0][missing] = 0
    data[1][missing] = 0
    return data.astype(np.float32)


def model_array(pose: np.ndarray, score: np.ndarray, decimals: int = DECIMALS) -> np.ndarray:
    """Steps 4-5: frame-relative pose (T, I, V, 2) and score (T, I, V) -> the model's (3, T, V, I) float32 array,
    exactly what the JSON clips of the same frames give after ``kinetics_gendata``."""
    scale = 10.0 ** decimals
    q_pose = quantise(pose, decimals) / scale                        # (T, I, V, 2) float64
    q_score = quantise(score, decimals) / scale                      # (T, I, V)
    data = np.stack([q_pose[..., 0], q_pose[..., 1], q_score])       # (3, T, I, V)
    return centre_and_mask(data.transpose(0, 1, 3, 2))               # (3, T, V, I)


# ------------------------------------------------------------------ the spec
@dataclasses.dataclass
class InputSpec:
    """What a model needs to prepare its input, stored beside the data and in every model file.

    Attributes:
        bodyparts: node order (V names), or None when the data did not say (the published Kinetics clips).
        rename: bodypart names of the pose files -> the names used (``csv2json --rename``).
        pcutoff, max_gap: steps 2-3.
        frame_size: [width, height] in pixels that every recording was divided by, or None when it varied (read
            per recording from a video or the coordinate range).
        fps: frames per second of the recordings, or None when unknown or mixed.
        single: what was done with a multi-animal file's unique bodyparts ('attach' or 'drop').
        clip_len: T, frames per training clip (the demo's default window).
        num_person: M, individuals per clip.
        transform: the test feeder's transform arguments (``feeder.transforms.TRANSFORM_ARGS``; no augmentation).
        class_names: one name per class, in label order, or None.
        background: the class of the frames outside every annotated bout (``csv2json --background``), or None.
        mean_bout: mean length in frames (at ``fps``) of the annotated bouts of each class, for smoothing.
        aspect: height / width of the frame sizes the clips were divided by, when they all share it (1.0 for the
            coordinate range's square); a transform's ``frame_size`` must have the same (see
            :func:`check_frame_aspect`).
    """
    bodyparts: list[str] | None = None
    rename: dict[str, str] = dataclasses.field(default_factory=dict)
    pcutoff: float = 0.6
    max_gap: int = DEFAULT_MAX_GAP
    frame_size: list[float] | None = None
    fps: float | None = None
    single: str = 'attach'
    clip_len: int | None = None
    num_person: int | None = None
    transform: dict[str, Any] = dataclasses.field(default_factory=dict)
    class_names: list[str] | None = None
    background: str | None = None
    mean_bout: dict[str, float] | None = None
    aspect: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = '') -> 'InputSpec':
        """The spec from a mapping (a data meta file or a model file); unknown keys are a ValueError."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known - {'format'})
        if unknown:
            raise ValueError(f'{source}: unknown input spec key(s) {", ".join(unknown)}')
        return cls(**{k: v for k, v in values.items() if k in known})


def check_frame_aspect(spec: InputSpec | None, feeder_args: Mapping[str, Any] | None, source: str) -> None:
    """Refuse a transform ``frame_size`` whose height / width differs from the frame sizes the data were divided
    by: the egocentric transforms would stretch y by the wrong factor, so that every angle and length is distorted
    (silently, and the same in training and labelling). ``source`` names the data for the message."""
    if spec is None or spec.aspect is None or not feeder_args or feeder_args.get('frame_size') is None:
        return
    size = feeder_args['frame_size']
    try:
        aspect = float(size[1]) / float(size[0])
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return  # the transform refuses it with its own message
    if abs(aspect - spec.aspect) > 1e-3 * spec.aspect:
        square = abs(spec.aspect - 1.0) < 1e-6
        raise ValueError(
            f'frame_size {list(size)} (height / width {aspect:.3f}) does not match {source}, whose clips were '
            f'divided by frames of height / width {spec.aspect:.3f}' +
            (' (csv2json used the coordinate range: no --width/--height or video): set frame_size: [1, 1], or '
             'convert again with --width/--height' if square else ': set frame_size to the size given to csv2json'))


def companion_path(data_path: str, suffix: str) -> str:
    """The file of a split that goes with ``<split>_data.npy``: ``<split><suffix>`` beside it (``X<suffix>``
    beside ``X.npy``), e.g. ``_label.pkl`` or ``_meta.json``."""
    directory, base = os.path.split(os.fspath(data_path))
    stem = base[:-len('.npy')] if base.endswith('.npy') else base
    stem = stem[:-len('_data')] if stem.endswith('_data') else stem
    return os.path.join(directory, stem + suffix)


def meta_path(data_path: str) -> str:
    """``<split>_meta.json`` beside ``<split>_data.npy``."""
    return companion_path(data_path, '_meta.json')


def write_meta(path: str, spec: InputSpec) -> None:
    """The data's part of the spec as JSON (atomically), read back by :func:`read_meta`."""
    with atomic_write(path, 'w') as handle:
        json.dump({'format': META_FORMAT, **spec.to_dict()}, handle, indent=1)
        handle.write('\n')


def read_meta(data_path: str) -> InputSpec | None:
    """The spec written beside a data array by ``tools/kinetics_gendata.py``, or None when there is none."""
    path = meta_path(data_path)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as handle:
            values = json.load(handle)
    except json.JSONDecodeError as exc:
        raise ValueError(f'{path}: not valid JSON ({exc})') from None
    if not isinstance(values, dict) or values.get('format') != META_FORMAT:
        raise ValueError(f'{path}: not a data description of format {META_FORMAT!r}')
    return InputSpec.from_dict(values, path)


def common_value(values: Sequence[Any]) -> Any:
    """The one value every item shares, or None when they differ (or there are none)."""
    distinct = {json.dumps(v, sort_keys=True) for v in values}
    return values[0] if len(distinct) == 1 else None
