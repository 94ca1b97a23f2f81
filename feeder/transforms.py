"""Per-sample input preparation: egocentric alignment, rotation/scale augmentation and motion channels.

Every path that feeds a model (training, test, ``main.py extract``, whole-recording inference) builds its
preparation with :func:`build_transform` from the same feeder arguments, so a model always sees its input prepared
the same way. The arrays on disk are not changed.

Input: a float array (C, T, V, M) with C = 3 channels x, y, score as written by ``tools/kinetics_gendata.py``:
x and y divided by the frame width and height and centred (minus 0.5), and x = y = 0 exactly where the score is 0
(a masked joint). T frames, V joints, M individuals (slots).

Steps, in order:

0. ``random_individual_order`` (training): the M individual slots are put in a random order (one draw per sample,
   before anything else, so with a focal mode the focal individual changes too). Multi-animal trackers number the
   animals arbitrarily; this teaches the model that. A single-slot clip (M = 1) is left as it is and draws nothing.
   For test-time averaging over orders, :func:`individual_orders` lists the orders and
   :meth:`SampleTransform.each_order` prepares the sample once per order.
1. ``normalize``
   - ``frame``: the coordinates as they are (the original ST-GCN input).
   - ``egocentric_clip``: per individual, subtract the clip's mean position of ``center_joint`` (over the frames
     where it is visible), rotate by the clip's mean heading so that the heading vector
     ``heading_joints[0] -> heading_joints[1]`` points along +x (image x, to the right), and divide by the
     median length of that vector. Coordinates are then in body lengths. Each individual is aligned on its own
     body, so where one animal is relative to another is lost.
   - ``egocentric_frame``: the same with the centre and heading of each frame (posture only); frames where the
     reference joints are not visible take the centre / heading of the nearest frame where they are. The scale is
     still the clip's median length, so foreshortening (rearing, for example) stays visible.
   - ``egocentric_focal``: the centre, mean heading and body length of one *focal* individual (slot ``focal``,
     default 0), computed as in ``egocentric_clip``, are applied to **every** individual of the clip: the focal
     animal is centred and faces +x, and every other animal keeps its distance (in the focal animal's body
     lengths), bearing and heading relative to it. For social behaviour (approach, following, sniffing).
   - ``egocentric_focal_frame``: the same with the focal individual's centre and heading of each frame (as
     ``egocentric_frame``): the partner is seen from where the focal animal is and where it faces at that moment.
   - ``egocentric_pair``: per clip, origin at the midpoint of the mean centres of the focal individual and the
     next individual that can be aligned (the partner), +x along the line from the focal's mean centre to the
     partner's, unit the mean of the two body lengths; applied to every individual. Swapping the two animals
     turns the picture by 180 degrees. When the two mean centres coincide exactly, the focal's heading gives +x;
     when they nearly coincide (animals circling each other) the axis turns with small changes of the data. With
     a single individual that can be aligned, it is ``egocentric_focal``.
   Means use visible joints only (score > 0). An individual is *aligned* when its centre joint is visible in some
   frame and both heading joints (at different points) in some frame. In every egocentric mode an individual
   that cannot be aligned becomes an empty slot (all zeros, score 0), so that no clip mixes coordinate systems.
   In the focal modes, when the focal slot cannot be aligned, the next slot that can (``focal + 1``, ...,
   wrapping around) is the focal; when no slot can, the clip is all zeros. No warning is given per sample:
   :meth:`SampleTransform.audit` counts such clips over a whole split (the feeders log one line per split).
   x and y are in units of the frame's width and height; ``frame_size = [w, h]`` (pixels, default [1, 1]) makes
   the geometry isotropic before rotating (y is multiplied by h / w), so that rotations keep angles and lengths of
   a non-square frame. With ``frame`` the y axis is turned back into frame heights after the augmentation.
2. ``random_rotate`` (degrees; an angle uniform in +-value) and ``random_scale`` (``[lo, hi]``, or a float s for
   ``[1 - s, 1 + s]``): one draw per sample, about the origin (the animal's centre after egocentric alignment, the
   frame centre with ``frame``), for training; ``random_noise`` (a standard deviation): Gaussian noise on every
   joint in every frame, in the normalised units (body lengths after egocentric alignment), like tracking jitter,
   so that a model does not learn one recording's jitter (recordings differ in it).
3. Masked joints are set back to x = y = 0.
4. ``channels``, concatenated in the order given:
   - ``xy_score``: x, y, score (3 channels);
   - ``velocity``: x[t] - x[t-1], y[t] - y[t-1] (2 channels); 0 at frame 0 and wherever the joint is masked in
     either frame;
   - ``bone``: x, y of the joint minus its parent's (2 channels); the parent is the neighbour one step closer to
     the layout's ``center`` (breadth-first search over the layout's edges); 0 for the centre itself, for joints
     not connected to it, and wherever the joint or its parent is masked.

Random draws use the ``rng`` passed to the transform, or numpy's global RNG when None (as the original
augmentations), in the order: individual order, rotation, scale.

With the defaults (``frame``, no augmentation, ``[xy_score]``) the transform returns its input unchanged.
"""
from __future__ import annotations

import itertools
import logging
import math
from collections import deque
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from torchlight import closest

logger = logging.getLogger(__name__)

__all__ = ['NORMALIZE_MODES', 'FOCAL_MODES', 'CHANNELS', 'CHANNEL_SIZES', 'TRANSFORM_ARGS', 'AUGMENTATION_ARGS',
           'SampleTransform', 'build_transform', 'transform_from_feeder_args', 'transform_args', 'channel_count',
           'bone_parents', 'resolve_joint', 'align', 'individual_orders', 'velocity_channels', 'bone_channels']

NORMALIZE_MODES: tuple[str, ...] = ('frame', 'egocentric_clip', 'egocentric_frame', 'egocentric_focal',
                                    'egocentric_focal_frame', 'egocentric_pair')
# the modes that put every individual in one coordinate system, that of the focal individual (or of the pair)
FOCAL_MODES: tuple[str, ...] = ('egocentric_focal', 'egocentric_focal_frame', 'egocentric_pair')
_PER_FRAME: tuple[str, ...] = ('egocentric_frame', 'egocentric_focal_frame')
CHANNEL_SIZES: dict[str, int] = {'xy_score': 3, 'velocity': 2, 'bone': 2}
CHANNELS: tuple[str, ...] = tuple(CHANNEL_SIZES)
# the feeder arguments that belong to build_transform
TRANSFORM_ARGS: tuple[str, ...] = ('normalize', 'center_joint', 'heading_joints', 'focal', 'random_individual_order',
                                   'random_rotate', 'random_scale', 'random_noise', 'channels', 'layout', 'bodyparts',
                                   'frame_size')
# the transform arguments that draw a random augmentation (training only)
AUGMENTATION_ARGS: tuple[str, ...] = ('random_individual_order', 'random_rotate', 'random_scale', 'random_noise')
_AUDIT_CHUNK = 256  # clips read at a time by SampleTransform.audit

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


def _reference(xy: np.ndarray, visible: np.ndarray, center: int,
               heading: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where an individual's reference joints can be used, for any leading shape ``...``.

    Args: xy (..., 2, T, V, M) isotropic coordinates; visible (..., T, V, M).
    Returns (center_ok (..., T, M), heading vector (..., 2, T, M), its length (..., T, M), heading_ok (..., T, M)).
    An individual can be aligned when ``center_ok.any(-2) & heading_ok.any(-2)``.
    """
    a, b = heading
    vector = xy[..., b, :] - xy[..., a, :]  # (..., 2, T, M)
    length = np.hypot(vector[..., 0, :, :], vector[..., 1, :, :])  # (..., T, M)
    heading_ok = visible[..., a, :] & visible[..., b, :] & (length > 0)
    return visible[..., center, :], vector, length, heading_ok


def _clip_pose(centre: np.ndarray, vector: np.ndarray, length: np.ndarray, center_ok: np.ndarray,
               heading_ok: np.ndarray) -> tuple[np.ndarray, float, float]:
    """One individual's clip frame: (mean centre (2,), circular mean heading angle, median heading length).

    centre, vector: (2, T); length, center_ok, heading_ok: (T,).
    """
    origin = centre[:, center_ok].mean(axis=1)  # (2,)
    unit = vector[:, heading_ok] / length[heading_ok]  # (2, K)
    angle = math.atan2(unit[1].sum(), unit[0].sum())  # circular mean of the heading
    return origin, angle, float(np.median(length[heading_ok]))


def _frame_pose(centre: np.ndarray, vector: np.ndarray, length: np.ndarray, center_ok: np.ndarray,
                heading_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """One individual's per-frame frames: (centre (2, T), heading angle (T,), median heading length); frames where
    a reference joint is hidden take the nearest frame where it is visible."""
    origin = _nearest_fill(centre.T, center_ok).T  # (2, T)
    angle = _nearest_fill(np.arctan2(vector[1], vector[0]), heading_ok)  # (T,)
    return origin, angle, float(np.median(length[heading_ok]))


def _to_frame(xy: np.ndarray, origin: np.ndarray, angle: np.ndarray | float, scale: float) -> np.ndarray:
    """(2, T, V) points of one individual in the frame with this origin ((2,) or (2, T)), +x at ``angle`` ((T,) or
    a number) and this unit length."""
    if origin.ndim == 1:
        shifted = xy - origin[:, None, None]
    else:
        shifted = xy - origin[:, :, None]
    turn = -angle[:, None] if isinstance(angle, np.ndarray) else -angle
    return _rotate(shifted, turn) / scale


def align(xy: np.ndarray, visible: np.ndarray, center: int, heading: tuple[int, int], mode: str,
          focal: int = 0) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Egocentric alignment of one clip (``mode`` one of the egocentric ``NORMALIZE_MODES``).

    Args:
        xy: float64 (2, T, V, M) isotropic coordinates.
        visible: bool (T, V, M), True where the joint's score > 0.
        center: index of the centre joint.
        heading: (a, b): the vector from joint a to joint b is turned to point along +x.
        mode: ``egocentric_clip`` / ``egocentric_frame`` (each individual on its own body), or
            ``egocentric_focal`` / ``egocentric_focal_frame`` / ``egocentric_pair`` (one frame for all).
        focal: the focal individual's slot, for the focal modes (the next slot that can be aligned when it cannot).

    Returns (aligned (2, T, V, M), kept (M,) bool, focal used or None). Individuals not kept (those that cannot be
    aligned) are zero; masked joints of kept individuals are not set to zero here. The focal used is None in the
    per-individual modes and when no individual can be aligned.
    """
    center_ok, vector, length, heading_ok = _reference(xy, visible, center, heading)  # (T, M), (2, T, M), ...
    kept = center_ok.any(axis=0) & heading_ok.any(axis=0)  # (M,)
    centre = xy[:, :, center, :]  # (2, T, M)
    out = np.zeros_like(xy, dtype=np.float64)
    pose = _frame_pose if mode in _PER_FRAME else _clip_pose

    def reference_of(m: int):
        return pose(centre[..., m], vector[..., m], length[:, m], center_ok[:, m], heading_ok[:, m])

    if mode not in FOCAL_MODES:
        for m in np.flatnonzero(kept):
            out[..., m] = _to_frame(xy[..., m], *reference_of(m))
        return out, kept, None
    M = xy.shape[-1]
    candidates = [m for m in ((focal + k) % M for k in range(M)) if kept[m]]
    if not candidates:
        return out, kept, None
    origin, angle, scale = reference_of(candidates[0])
    if mode == 'egocentric_pair' and len(candidates) > 1:
        partner, partner_scale = reference_of(candidates[1])[0::2]
        line = partner - origin
        if line.any():
            angle = math.atan2(line[1], line[0])
        origin, scale = (origin + partner) / 2, (scale + partner_scale) / 2
    for m in np.flatnonzero(kept):
        out[..., m] = _to_frame(xy[..., m], origin, angle, scale)
    return out, kept, candidates[0]


def individual_orders(M: int, every: bool = False) -> list[np.ndarray]:
    """Orders of M individual slots for test-time averaging: prepare ``data[..., order]`` for each, average the
    model's outputs (:meth:`SampleTransform.each_order` does the preparing).

    By default the M cyclic shifts: order k puts individual k in slot 0 (the focal slot of the focal modes, with
    ``focal`` 0) and keeps the cyclic order of the others, so that each individual is the focal once; enough for a
    model that treats the slots alike (ST-GCN averages over M). ``every=True``: all M! permutations.
    """
    if isinstance(M, bool) or not isinstance(M, (int, np.integer)) or M < 1:
        raise ValueError(f'individual_orders: M {M!r} must be a number of individual slots >= 1')
    if every:
        return [np.array(order) for order in itertools.permutations(range(M))]
    return [np.roll(np.arange(M), -k) for k in range(M)]


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
                 aspect: float, focal: int = 0, individual_order: bool = False,
                 names: Sequence[str] | None = None, noise: float = 0.0) -> None:
        self.normalize = normalize
        self.center = center
        self.heading = heading
        self.focal = focal
        self.individual_order = individual_order
        self.rotate = rotate
        self.scale = scale
        self.noise = noise
        self.channels = channels
        self.parents = parents
        self.aspect = aspect  # h / w
        self.names = list(names) if names is not None else None
        self.in_channels = channel_count(channels)

    @property
    def is_identity(self) -> bool:
        return (self.normalize == 'frame' and not self.rotate and self.scale is None and not self.noise
                and self.channels == ('xy_score',) and not self.individual_order)

    def __repr__(self) -> str:
        focal = f', focal={self.focal}' if self.normalize in FOCAL_MODES else ''
        return (f'SampleTransform(normalize={self.normalize!r}, center={self.center}, heading={self.heading}{focal}, '
                f'random_individual_order={self.individual_order}, random_rotate={self.rotate}, '
                f'random_scale={self.scale}, random_noise={self.noise}, channels={list(self.channels)})')

    def _check(self, data: np.ndarray) -> None:
        if data.ndim != 4 or data.shape[0] < 3:
            raise ValueError(f'transform: expected an array (C, T, V, M) with C >= 3 (x, y, score), '
                             f'got shape {data.shape}')
        V, M = data.shape[2:]
        for what, joint in (('center_joint', self.center), ('heading_joints', self.heading)):
            joints = joint if isinstance(joint, tuple) else (joint,)
            for index in joints:
                if index is not None and index >= V:
                    raise ValueError(f'{what}: joint index {index} is out of range for data with V={V} joints')
        if self.normalize in FOCAL_MODES and self.focal >= M:
            raise ValueError(f'focal: individual slot {self.focal} is out of range for data with M={M} '
                             f'individual slots (0 to {M - 1})')
        if self.parents is not None and len(self.parents) != V:
            raise ValueError(f'bone channels: the layout has {len(self.parents)} nodes but the data has V={V} '
                             'joints (check the feeder argument layout)')

    def __call__(self, data: np.ndarray, sample: str | None = None,
                 rng: np.random.Generator | None = None) -> np.ndarray:
        """(C, T, V, M) -> (in_channels, T, V, M) float32. ``sample`` names the clip in debug messages; ``rng``
        draws the augmentation (numpy's global RNG when None, as the original augmentations)."""
        if self.is_identity:
            return data
        self._check(data)
        if self.individual_order and data.shape[3] > 1:
            order = (np.random.permutation if rng is None else rng.permutation)(data.shape[3])
            data = data[..., order]
        return self._prepare(data, sample, rng)

    def each_order(self, data: np.ndarray, orders: Sequence[Sequence[int]] | None = None,
                   rng: np.random.Generator | None = None) -> np.ndarray:
        """(C, T, V, M) -> (K, in_channels, T, V, M) float32: the sample prepared once per individual order
        (``data[..., order]``; default :func:`individual_orders` (M)), for averaging a model's outputs over orders
        at test time. ``random_individual_order`` is not applied here."""
        self._check(data)
        orders = individual_orders(data.shape[3]) if orders is None else orders
        return np.stack([self._prepare(np.asarray(data)[..., np.asarray(order)], None, rng) for order in orders])

    def _prepare(self, data: np.ndarray, sample: str | None, rng: np.random.Generator | None) -> np.ndarray:
        visible = data[2] > 0  # (T, V, M)
        xy = np.asarray(data[0:2], dtype=np.float64)  # (2, T, V, M)
        score = np.asarray(data[2:3], dtype=np.float64)  # (1, T, V, M)
        if self.normalize != 'frame' or self.rotate or self.scale is not None or self.noise:
            xy = xy.copy()
            xy[1] *= self.aspect  # isotropic: both axes in frame widths
            if self.normalize != 'frame':
                xy, kept, focal = align(xy, visible, self.center, self.heading, self.normalize, self.focal)
                if not kept.all():
                    dropped = np.flatnonzero(~kept & visible.any(axis=(0, 1)))
                    if len(dropped):
                        logger.debug('%s: individual slot(s) %s cannot be aligned: empty', sample,
                                     ', '.join(map(str, dropped)))
                    visible = visible & kept
                    score = np.where(kept, score, 0.0)
                if focal is not None and focal != self.focal:
                    logger.debug('%s: slot %d is the focal individual instead of %d', sample, focal, self.focal)
            xy = self._augment(xy, rng)
            if self.normalize == 'frame':
                xy[1] /= self.aspect  # frame coordinates back in frame heights
            xy = np.where(visible, xy, 0.0)
        parts = []
        for name in self.channels:
            if name == 'xy_score':
                parts.append(np.concatenate([xy, score]))
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
        if self.noise:  # tracking jitter: independent per frame, joint and axis
            normal = np.random.normal if rng is None else rng.normal
            xy = xy + normal(0.0, self.noise, size=xy.shape)
        return xy

    # ------------------------------------------------------------ audit of a whole split
    def audit(self, data: np.ndarray | Iterable[np.ndarray], chunk: int = _AUDIT_CHUNK) -> dict[str, int]:
        """Count the clips of a split that the alignment changes, without preparing them.

        Args:
            data: an (N, C, T, V, M) array or memory map (read ``chunk`` clips at a time), or an iterable of
                (n, C, T, V, M) arrays (chunks of a split read some other way).
        Returns ``{'clips': N, 'empty_slot': clips where an individual with visible joints cannot be aligned and
        becomes an empty slot, 'focal_changed': clips where the focal slot cannot be aligned but another can (the
        focal modes), 'all_empty': clips with visible joints where no individual can be aligned (all zeros),
        'no_partner': clips with only one individual that can be aligned (egocentric_pair: the focal's own frame)}``.
        Counts are for the slots in stored order (``random_individual_order`` changes the focal per draw). With
        ``frame`` only ``clips`` is counted.
        """
        counts = dict.fromkeys(('clips', 'empty_slot', 'focal_changed', 'all_empty', 'no_partner'), 0)
        chunks = ((data[start:start + chunk] for start in range(0, len(data), chunk)) if isinstance(data, np.ndarray)
                  else data)
        for part in chunks:
            counts['clips'] += len(part)
            if self.normalize == 'frame' or not len(part):
                continue
            if part.ndim != 5 or part.shape[1] < 3:
                raise ValueError(f'audit: expected arrays (N, C, T, V, M) with C >= 3, got shape {part.shape}')
            joints = [self.center, *self.heading]  # read only the reference joints' coordinates
            visible = np.asarray(part[:, 2]) > 0  # (n, T, V, M)
            xy = np.asarray(part[:, 0:2][:, :, :, joints], dtype=np.float64)  # (n, 2, T, 3, M)
            xy[:, 1] *= self.aspect
            center_ok, _, _, heading_ok = _reference(xy, visible[:, :, joints], 0, (1, 2))  # (n, T, M)
            alignable = center_ok.any(axis=1) & heading_ok.any(axis=1)  # (n, M)
            present = visible.any(axis=(1, 2))  # (n, M)
            counts['empty_slot'] += int((present & ~alignable).any(axis=1).sum())
            counts['all_empty'] += int((present.any(axis=1) & ~alignable.any(axis=1)).sum())
            if self.normalize in FOCAL_MODES and self.focal < part.shape[-1]:
                counts['focal_changed'] += int((~alignable[:, self.focal] & alignable.any(axis=1)).sum())
            if self.normalize == 'egocentric_pair':
                counts['no_partner'] += int((alignable.sum(axis=1) == 1).sum())
        return counts

    def audit_message(self, counts: Mapping[str, int], split: str) -> str | None:
        """The one log line for :meth:`audit`'s counts of a split, or None when there is nothing to report."""
        n = counts['clips']
        joints = self._joint_name
        parts = []
        if counts['empty_slot']:
            parts.append(f'{counts["empty_slot"]} of {n} clips have an individual whose reference joints '
                         f'({joints(self.center)}; {joints(self.heading[0])} -> {joints(self.heading[1])}) are '
                         'never visible: it enters as an empty slot')
        if counts['focal_changed']:
            parts.append(f'in {counts["focal_changed"]} of {n} clips the focal slot {self.focal} cannot be aligned '
                         'and the next slot that can is the focal')
        if counts['all_empty']:
            parts.append(f'in {counts["all_empty"]} of {n} clips no individual can be aligned: all zeros')
        if counts['no_partner']:
            parts.append(f'{counts["no_partner"]} of {n} clips have only one individual that can be aligned: '
                         'its own frame instead of the pair frame')
        if not parts:
            return None
        return f'{split}: ' + '; '.join(parts) + f' (normalize {self.normalize})'

    def log_audit(self, data: np.ndarray | Iterable[np.ndarray], split: str) -> dict[str, int]:
        """:meth:`audit` a split and log its :meth:`audit_message` as one warning; returns the counts."""
        counts = self.audit(data)
        message = self.audit_message(counts, split)
        if message is not None:
            logger.warning(message)
        return counts

    def _joint_name(self, index: int) -> str:
        return self.names[index] if self.names is not None and index < len(self.names) else f'joint {index}'


def build_transform(normalize: str = 'frame', center_joint: Joint | None = None,
                    heading_joints: Sequence[Joint] | None = None, focal: int = 0,
                    random_individual_order: bool = False, random_rotate: float = 0.0,
                    random_scale: float | Sequence[float] | None = None, random_noise: float = 0.0,
                    channels: Sequence[str] | str = ('xy_score',), layout: str | Mapping[str, Any] | None = None,
                    bodyparts: Sequence[str] | None = None,
                    frame_size: Sequence[float] | None = None) -> SampleTransform:
    """The per-sample preparation chosen by the feeder arguments (see the module docstring).

    Args:
        normalize: ``frame``, ``egocentric_clip``, ``egocentric_frame``, ``egocentric_focal``,
            ``egocentric_focal_frame`` or ``egocentric_pair``.
        center_joint: index or bodypart name of the joint the body is centred on (egocentric modes).
        heading_joints: [a, b]: the vector a -> b is rotated to +x (egocentric modes).
        focal: the focal individual's slot (0, 1, ...) in the focal modes; ignored by the others.
        random_individual_order: put the individual slots in a random order per sample (training).
        random_rotate: degrees; each sample is rotated by an angle uniform in +-value (0: off).
        random_scale: [lo, hi], or s for [1 - s, 1 + s]; each sample is scaled by a factor uniform in it.
        random_noise: standard deviation of Gaussian noise added to every visible joint in every frame (in the
            normalised units: body lengths with the egocentric modes, frame widths with ``frame``), as tracking
            jitter; 0 is off.
        channels: groups among ``xy_score`` (3), ``velocity`` (2), ``bone`` (2), in output order.
        layout: graph layout (name or mapping, as ``graph_args.layout``): gives bodypart names and the bone parents.
        bodyparts: bodypart names in joint order (instead of, or overriding the names of, ``layout``).
        frame_size: [w, h] of the video in pixels, so that rotations are isotropic (default [1, 1]).
    """
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f'unknown normalize {normalize!r}{closest(str(normalize), NORMALIZE_MODES)}; '
                         f'allowed: {", ".join(NORMALIZE_MODES)}')
    channels = _check_channels(channels)
    if isinstance(focal, bool) or not isinstance(focal, (int, np.integer)) or focal < 0:
        raise ValueError(f'focal {focal!r}: expected the slot of the focal individual, an integer 0, 1, ...')
    if not isinstance(random_individual_order, (bool, np.bool_)):
        raise ValueError(f'random_individual_order {random_individual_order!r}: expected a boolean (true or false '
                         'in YAML, True or False on the command line)')
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
    if isinstance(random_noise, bool) or not isinstance(random_noise, (int, float)) or not 0 <= random_noise < 1:
        raise ValueError(f'random_noise {random_noise!r}: expected a standard deviation in [0, 1) (body lengths '
                         'with the egocentric modes)')
    if frame_size is None:
        frame_size = (1.0, 1.0)
    if isinstance(frame_size, (str, bytes)) or len(frame_size) != 2 or not all(float(v) > 0 for v in frame_size):
        raise ValueError(f'frame_size {frame_size!r}: expected [width, height] in pixels, both > 0')
    aspect = float(frame_size[1]) / float(frame_size[0])
    return SampleTransform(normalize, center, heading, rotate, _scale_range(random_scale), channels, parents, aspect,
                           focal=int(focal), individual_order=bool(random_individual_order), names=names,
                           noise=float(random_noise))


def transform_from_feeder_args(feeder_args: Mapping[str, Any] | None, augment: bool = False) -> SampleTransform:
    """The transform of a config's ``train_feeder_args`` / ``test_feeder_args`` (other keys are ignored).

    For inference outside a feeder (``main.py extract``, whole-recording demo) so the model sees what it saw in
    training. ``augment=False`` leaves out random_individual_order, random_rotate and random_scale.
    """
    return build_transform(**transform_args(feeder_args, augment))


def transform_args(feeder_args: Mapping[str, Any] | None, augment: bool = False) -> dict[str, Any]:
    """The transform's part of feeder arguments (without the augmentation unless ``augment``)."""
    return {key: value for key, value in (feeder_args or {}).items()
            if key in TRANSFORM_ARGS and (augment or key not in AUGMENTATION_ARGS)}
