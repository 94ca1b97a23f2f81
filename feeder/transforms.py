"""Per-sample input preparation: egocentric alignment, rotation/scale augmentation and motion channels.

Every path that feeds a model (training, test, ``main.py extract``, whole-recording inference) builds its
preparation with :func:`build_transform` from the same feeder arguments, so a model always sees its input prepared
the same way. The arrays on disk are not changed.

Input: a float array (C, T, V, M) with C = 3 channels x, y, score as written by ``tools/kinetics_gendata.py``:
x and y divided by the frame width and height and centred (minus 0.5), and x = y = 0 exactly where the score is 0
(a masked joint). T frames, V joints, M individuals.

Steps, in order:

1. ``normalize``
   - ``frame``: the coordinates as they are (the original ST-GCN input).
   - ``egocentric_clip``: per individual, subtract the clip's mean position of ``center_joint`` (over the frames
     where it is visible), rotate by the clip's mean heading so that the heading vector
     ``heading_joints[0] -> heading_joints[1]`` points along +x (image x, to the right), and divide by the
     median length of that vector. Coordinates are then in body lengths.
   - ``egocentric_frame``: the same with the centre and heading of each frame (posture only); frames where the
     reference joints are not visible take the centre / heading of the nearest frame where they are. The scale is
     still the clip's median length, so foreshortening (rearing, for example) stays visible.
   Means use visible joints only (score > 0). An individual whose reference joints are never visible falls back to
   ``frame`` coordinates, with a warning naming the sample (once per sample and process). An individual with no
   visible joint at all (an empty slot) stays zero.
   x and y are in units of the frame's width and height; ``frame_size = [w, h]`` (pixels, default [1, 1]) makes
   the geometry isotropic before rotating (y is multiplied by h / w), so that rotations keep angles and lengths of
   a non-square frame. With ``frame`` the y axis is turned back into frame heights after the augmentation.
2. ``random_rotate`` (degrees; an angle uniform in +-value) and ``random_scale`` (``[lo, hi]``, or a float s for
   ``[1 - s, 1 + s]``): one draw per sample, about the origin (the animal's centre after egocentric alignment, the
   frame centre with ``frame``), for training.
3. Masked joints are set back to x = y = 0.
4. ``channels``, concatenated in the order given:
   - ``xy_score``: x, y, score (3 channels);
   - ``velocity``: x[t] - x[t-1], y[t] - y[t-1] (2 channels); 0 at frame 0 and wherever the joint is masked in
     either frame;
   - ``bone``: x, y of the joint minus its parent's (2 channels); the parent is the neighbour one step closer to
     the layout's ``center`` (breadth-first search over the layout's edges); 0 for the centre itself, for joints
     not connected to it, and wherever the joint or its parent is masked.

With the defaults (``frame``, no augmentation, ``[xy_score]``) the transform returns its input unchanged.
"""
from __future__ import annotations

import logging
import math
from collections import deque
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from torchlight import closest

logger = logging.getLogger(__name__)

__all__ = ['NORMALIZE_MODES', 'CHANNELS', 'CHANNEL_SIZES', 'TRANSFORM_ARGS', 'AUGMENTATION_ARGS', 'SampleTransform',
           'build_transform', 'transform_from_feeder_args', 'transform_args', 'channel_count', 'bone_parents', 'resolve_joint', 'egocentric', 'velocity_channels', 'bone_channels']

NORMALIZE_MODES: tuple[str, ...] = ('frame', 'egocentric_clip', 'egocentric_frame')
CHANNEL_SIZES: dict[str, int] = {'xy_score': 3, 'velocity': 2, 'bone': 2}
CHANNELS: tuple[str, ...] = tuple(CHANNEL_SIZES)
# the feeder arguments that belong to build_transform
TRANSFORM_ARGS: tuple[str, ...] = ('normalize', 'center_joint', 'heading_joints', 'random_rotate', 'random_scale',
                                   'channels', 'layout', 'bodyparts', 'frame_size')
# the transform arguments that draw a random augmentation (training only)
AUGMENTATION_ARGS: tuple[str, ...] = ('random_rotate', 'random_scale')

Joint = int | str


# ---------------------------------------------------------------- argument checking
def _check_channels(channels: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(channels, str):
        channels = [channels]
    channels = tuple(str(c) for c in channels)
    if not channels:
        raise ValueError(f'channels is empty; choose one or more of: {", ".join(CHANNELS)}')
    for name in channels:
        if name not in CHANNEL_SIZES:
            raise ValueError(f'unknown channel group {name!r} in channels{closest(name, CHANNELS)}; '
                             f'allowed: {", ".join(CHANNELS)}')
    if len(set(channels)) != len(channels):
        raise ValueError(f'channels {list(channels)} names a group twice')
    return channels


def channel_count(channels: Sequence[str] | str = ('xy_score',)) -> int:
    """The model's ``in_channels`` for a ``channels`` choice: 3 for xy_score, +2 for velocity, +2 for bone."""
    return sum(CHANNEL_SIZES[name] for name in _check_channels(channels))


def resolve_joint(joint: Joint, names: Sequence[str] | None, what: str) -> int:
    """A joint given by index or bodypart name as an index; ``what`` names the argument in errors."""
    if isinstance(joint, bool):
        raise ValueError(f'{what}: {joint!r} is not a joint index or bodypart name')
    if isinstance(joint, (int, np.integer)):
        if joint < 0 or (names is not None and joint >= len(names)):
            limit = f' (0 to {len(names) - 1})' if names is not None else ''
            raise ValueError(f'{what}: joint index {joint} is out of range{limit}')
        return int(joint)
    if isinstance(joint, str):
        if joint.lstrip('-').isdigit():
            return resolve_joint(int(joint), names, what)
        if names is None:
            raise ValueError(f'{what}: bodypart name {joint!r} needs the bodypart names: pass layout (a named '
                             'layout or one with names) or bodyparts [...] in the feeder arguments, or give an index')
        if joint not in names:
            raise ValueError(f'{what}: {joint!r} is not a bodypart{closest(joint, names)}; '
                             f'bodyparts: {", ".join(names)}')
        return list(names).index(joint)
    raise ValueError(f'{what}: {joint!r} is not a joint index or bodypart name')


def _scale_range(random_scale: float | Sequence[float] | None) -> tuple[float, float] | None:
    if random_scale is None:
        return None
    if isinstance(random_scale, (int, float)) and not isinstance(random_scale, bool):
        s = float(random_scale)
        if s == 0:
            return None
        if not 0 < s < 1:
            raise ValueError(f'random_scale {random_scale!r}: a single value s gives the range [1 - s, 1 + s] '
                             'and must be in [0, 1); or give [lo, hi]')
        return 1.0 - s, 1.0 + s
    values = list(random_scale)
    if len(values) != 2 or not 0 < float(values[0]) <= float(values[1]):
        raise ValueError(f'random_scale {random_scale!r}: expected [lo, hi] with 0 < lo <= hi, or a float s')
    lo, hi = float(values[0]), float(values[1])
    return None if lo == hi == 1.0 else (lo, hi)


def bone_parents(layout: str | Mapping[str, Any]) -> np.ndarray:
    """(V,) parent of every node: its neighbour one step closer to the layout's centre (BFS over the edges).

    The centre, and nodes not connected to it, are their own parent (their bone is zero).
    """
    from net.utils.graph import layout_spec  # imported here: only bone channels need the graph code

    spec = layout_spec(layout)
    neighbours: list[list[int]] = [[] for _ in range(spec.num_node)]
    for i, j in spec.edges:
        neighbours[i].append(j)
        neighbours[j].append(i)
    parent = np.arange(spec.num_node)
    seen = {spec.center}
    queue = deque([spec.center])
    while queue:
        node = queue.popleft()
        for other in sorted(neighbours[node]):
            if other not in seen:
                seen.add(other)
                parent[other] = node
                queue.append(other)
    return parent


# ---------------------------------------------------------------- geometry
def _rotate(xy: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    """Rotate (2, ...) points counter-clockwise (x towards y) by ``angle`` radians (broadcast over ...)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * xy[0] - s * xy[1], s * xy[0] + c * xy[1]])


def _nearest_fill(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """values (T, ...) with the rows where ``valid`` is False replaced by the nearest valid row."""
    index = np.flatnonzero(valid)
    positions = np.arange(len(valid))
    right = np.clip(np.searchsorted(index, positions), 0, len(index) - 1)
    left = np.clip(right - 1, 0, len(index) - 1)
    use_left = np.abs(positions - index[left]) <= np.abs(index[right] - positions)
    return values[np.where(use_left, index[left], index[right])]


def egocentric(xy: np.ndarray, visible: np.ndarray, center: int, heading: tuple[int, int],
               per_frame: bool = False) -> tuple[np.ndarray, list[int]]:
    """Align every individual to its body: centre, heading along +x, body length 1.

    Args:
        xy: float64 (2, T, V, M) isotropic coordinates.
        visible: bool (T, V, M), True where the joint's score > 0.
        center: index of the centre joint.
        heading: (a, b): the vector from joint a to joint b is turned to point along +x.
        per_frame: centre and heading of each frame instead of the clip's means.

    Returns (aligned (2, T, V, M), individuals that could not be aligned and were left as they were). Masked
    joints are not set to zero here.
    """
    out = np.array(xy, dtype=np.float64, copy=True)
    failed: list[int] = []
    a, b = heading
    for m in range(xy.shape[-1]):
        seen = visible[:, :, m]  # (T, V)
        if not seen.any():
            continue  # an empty individual slot
        c_ok = seen[:, center]  # (T,)
        vector = xy[:, :, b, m] - xy[:, :, a, m]  # (2, T)
        length = np.hypot(vector[0], vector[1])  # (T,)
        h_ok = seen[:, a] & seen[:, b] & (length > 0)
        if not c_ok.any() or not h_ok.any():
            failed.append(m)
            continue
        scale = float(np.median(length[h_ok]))
        unit = vector[:, h_ok] / length[h_ok]  # (2, K)
        if per_frame:
            origin = _nearest_fill(xy[:, :, center, m].T, c_ok).T  # (2, T)
            angle = _nearest_fill(np.arctan2(vector[1], vector[0]), h_ok)  # (T,)
            out[:, :, :, m] = _rotate(xy[:, :, :, m] - origin[:, :, None], -angle[:, None]) / scale
        else:
            origin = xy[:, c_ok, center, m].mean(axis=1)  # (2,)
            angle = math.atan2(unit[1].sum(), unit[0].sum())  # circular mean of the heading
            out[:, :, :, m] = _rotate(xy[:, :, :, m] - origin[:, None, None], -angle) / scale
    return out, failed


def velocity_channels(xy: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(2, T, V, M) frame-to-frame differences of xy; 0 at frame 0 and where either frame's joint is masked."""
    velocity = np.zeros_like(xy)
    both = visible[1:] & visible[:-1]  # (T-1, V, M)
    velocity[:, 1:] = np.where(both, xy[:, 1:] - xy[:, :-1], 0.0)
    return velocity


def bone_channels(xy: np.ndarray, visible: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """(2, T, V, M) joint minus its parent; 0 for the centre and where the joint or its parent is masked."""
    both = visible & visible[:, parents]  # (T, V, M)
    return np.where(both, xy - xy[:, :, parents], 0.0)


# ---------------------------------------------------------------- the transform
class SampleTransform:
    """The preparation of one sample; build it with :func:`build_transform`. Call it on a (C, T, V, M) array."""

    def __init__(self, normalize: str, center: int | None, heading: tuple[int, int] | None, rotate: float,
                 scale: tuple[float, float] | None, channels: tuple[str, ...], parents: np.ndarray | None,
                 aspect: float) -> None:
        self.normalize = normalize
        self.center = center
        self.heading = heading
        self.rotate = rotate
        self.scale = scale
        self.channels = channels
        self.parents = parents
        self.aspect = aspect  # h / w
        self.in_channels = channel_count(channels)
        self._warned: set[str] = set()

    @property
    def is_identity(self) -> bool:
        return (self.normalize == 'frame' and not self.rotate and self.scale is None
                and self.channels == ('xy_score',))

    def __repr__(self) -> str:
        return (f'SampleTransform(normalize={self.normalize!r}, center={self.center}, heading={self.heading}, '
                f'random_rotate={self.rotate}, random_scale={self.scale}, channels={list(self.channels)})')

    def _check(self, data: np.ndarray) -> None:
        if data.ndim != 4 or data.shape[0] < 3:
            raise ValueError(f'transform: expected an array (C, T, V, M) with C >= 3 (x, y, score), '
                             f'got shape {data.shape}')
        V = data.shape[2]
        for what, joint in (('center_joint', self.center), ('heading_joints', self.heading)):
            joints = joint if isinstance(joint, tuple) else (joint,)
            for index in joints:
                if index is not None and index >= V:
                    raise ValueError(f'{what}: joint index {index} is out of range for data with V={V} joints')
        if self.parents is not None and len(self.parents) != V:
            raise ValueError(f'bone channels: the layout has {len(self.parents)} nodes but the data has V={V} '
                             'joints (check the feeder argument layout)')

    def __call__(self, data: np.ndarray, sample: str | None = None,
                 rng: np.random.Generator | None = None) -> np.ndarray:
        """(C, T, V, M) -> (in_channels, T, V, M) float32. ``sample`` names the clip in warnings; ``rng``
        draws the augmentation (numpy's global RNG when None, as the original augmentations)."""
        if self.is_identity:
            return data
        self._check(data)
        visible = data[2] > 0  # (T, V, M)
        xy = np.asarray(data[0:2], dtype=np.float64)  # (2, T, V, M)
        if self.normalize != 'frame' or self.rotate or self.scale is not None:
            xy = xy.copy()
            xy[1] *= self.aspect  # isotropic: both axes in frame widths
            if self.normalize != 'frame':
                xy, failed = egocentric(xy, visible, self.center, self.heading,
                                        per_frame=self.normalize == 'egocentric_frame')
                if failed:
                    self._warn_fallback(sample, failed)
            else:
                failed = list(range(xy.shape[-1]))
            xy = self._augment(xy, rng)
            xy[1, ..., failed] /= self.aspect  # frame coordinates back in frame heights
            xy = np.where(visible, xy, 0.0)
        parts = []
        for name in self.channels:
            if name == 'xy_score':
                parts.append(np.concatenate([xy, np.asarray(data[2:3], dtype=np.float64)]))
            elif name == 'velocity':
                parts.append(velocity_channels(xy, visible))
            else:
                parts.append(bone_channels(xy, visible, self.parents))
        return np.concatenate(parts).astype(np.float32)

    def _augment(self, xy: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        uniform = np.random.uniform if rng is None else rng.uniform
        if self.rotate:
            xy = _rotate(xy, math.radians(float(uniform(-self.rotate, self.rotate))))
        if self.scale is not None:
            xy = xy * float(uniform(*self.scale))
        return xy

    def _warn_fallback(self, sample: str | None, failed: list[int]) -> None:
        key = str(sample)
        if key in self._warned:
            return
        self._warned.add(key)
        logger.warning('%s: individual %s: the reference joints (center %d, heading %d -> %d) are never visible; '
                       'using frame normalisation for it instead of %s', sample if sample is not None else 'a sample',
                       ', '.join(map(str, failed)), self.center, self.heading[0], self.heading[1], self.normalize)


def build_transform(normalize: str = 'frame', center_joint: Joint | None = None,
                    heading_joints: Sequence[Joint] | None = None, random_rotate: float = 0.0,
                    random_scale: float | Sequence[float] | None = None,
                    channels: Sequence[str] | str = ('xy_score',), layout: str | Mapping[str, Any] | None = None,
                    bodyparts: Sequence[str] | None = None,
                    frame_size: Sequence[float] | None = None) -> SampleTransform:
    """The per-sample preparation chosen by the feeder arguments (see the module docstring).

    Args:
        normalize: ``frame``, ``egocentric_clip`` or ``egocentric_frame``.
        center_joint: index or bodypart name of the joint the body is centred on (egocentric modes).
        heading_joints: [a, b]: the vector a -> b is rotated to +x (egocentric modes).
        random_rotate: degrees; each sample is rotated by an angle uniform in +-value (0: off).
        random_scale: [lo, hi], or s for [1 - s, 1 + s]; each sample is scaled by a factor uniform in it.
        channels: groups among ``xy_score`` (3), ``velocity`` (2), ``bone`` (2), in output order.
        layout: graph layout (name or mapping, as ``graph_args.layout``): gives bodypart names and the bone parents.
        bodyparts: bodypart names in joint order (instead of, or overriding the names of, ``layout``).
        frame_size: [w, h] of the video in pixels, so that rotations are isotropic (default [1, 1]).
    """
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f'unknown normalize {normalize!r}{closest(str(normalize), NORMALIZE_MODES)}; '
                         f'allowed: {", ".join(NORMALIZE_MODES)}')
    channels = _check_channels(channels)
    names: Sequence[str] | None = None
    parents = None
    if layout is not None:
        from net.utils.graph import layout_spec
        spec = layout_spec(layout)
        names = spec.names
        if 'bone' in channels:
            parents = bone_parents(layout)
    if bodyparts is not None:
        if isinstance(bodyparts, str):
            raise ValueError(f'bodyparts {bodyparts!r}: expected a list of bodypart names in joint order')
        names = [str(name) for name in bodyparts]
        if layout is not None and len(names) != spec.num_node:
            raise ValueError(f'bodyparts has {len(names)} names but the layout has {spec.num_node} nodes')
    if 'bone' in channels and parents is None:
        raise ValueError('channels bone needs the skeleton: pass layout (a named layout such as rat, a '
                         '{num_node, edges, center} mapping or {dlc_config: path}) in the feeder arguments')

    center = heading = None
    if normalize != 'frame':
        if center_joint is None or heading_joints is None:
            raise ValueError(f'normalize {normalize} needs center_joint and heading_joints [a, b] (joint indices '
                             'or bodypart names)')
        if isinstance(heading_joints, (str, bytes)) or len(heading_joints) != 2:
            raise ValueError(f'heading_joints {heading_joints!r}: expected two joints [a, b] (the vector a -> b '
                             'is turned to +x)')
        center = resolve_joint(center_joint, names, 'center_joint')
        heading = (resolve_joint(heading_joints[0], names, 'heading_joints[0]'),
                   resolve_joint(heading_joints[1], names, 'heading_joints[1]'))
        if heading[0] == heading[1]:
            raise ValueError(f'heading_joints {list(heading_joints)}: the two joints must differ')

    rotate = float(random_rotate or 0.0)
    if not 0 <= rotate <= 180:
        raise ValueError(f'random_rotate {random_rotate!r}: expected degrees in [0, 180]')
    if frame_size is None:
        frame_size = (1.0, 1.0)
    if isinstance(frame_size, (str, bytes)) or len(frame_size) != 2 or not all(float(v) > 0 for v in frame_size):
        raise ValueError(f'frame_size {frame_size!r}: expected [width, height] in pixels, both > 0')
    aspect = float(frame_size[1]) / float(frame_size[0])
    return SampleTransform(normalize, center, heading, rotate, _scale_range(random_scale), channels, parents, aspect)


def transform_from_feeder_args(feeder_args: Mapping[str, Any] | None, augment: bool = False) -> SampleTransform:
    """The transform of a config's ``train_feeder_args`` / ``test_feeder_args`` (other keys are ignored).

    For inference outside a feeder (``main.py extract``, whole-recording demo) so the model sees what it saw in
    training. ``augment=False`` leaves out random_rotate and random_scale.
    """
    return build_transform(**transform_args(feeder_args, augment))


def transform_args(feeder_args: Mapping[str, Any] | None, augment: bool = False) -> dict[str, Any]:
    """The transform's part of feeder arguments (without the augmentation unless ``augment``)."""
    return {key: value for key, value in (feeder_args or {}).items()
            if key in TRANSFORM_ARGS and (augment or key not in AUGMENTATION_ARGS)}
