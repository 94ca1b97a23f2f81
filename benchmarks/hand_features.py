"""Hand-made per-frame pose features and a gradient-boosting classifier: the baseline ST-GCN has to beat.

This is what SimBA-style pipelines do: per-frame movement, distances and angles computed from the tracked points,
summarised over sliding windows, fed to a gradient-boosting classifier, one row per frame. Written here from that
description for this project's arrays (``feeder.dlc_io.PoseRecording``); nothing is taken from SimBA.

Arrays (one recording):
    T  frames, I  individuals, V  bodyparts
    ``xy``    (T, I, V, 2) pixels, NaN where missing
    ``score`` (T, I, V)    likelihood in [0, 1]

Units of the features:
    lengths in body lengths (BL), speeds in BL/s, angles in radians, angular speeds in rad/s, flags 0/1.
    One body length per recording (the same for every individual, so pairwise distances share the unit), chosen
    from the bodypart names: the median nose-tailbase distance when both are named, else the median distance from
    the ears' midpoint to the tailbase, else the median over frames of the largest distance between two body
    points ("span"). Medians over the frames where both points are confident, and over individuals.
    ``body_length`` returns it with a sentence saying which was used.

Points whose likelihood is below ``pcutoff`` are treated as missing; gaps of at most ``max_gap_s`` seconds are
filled by linear interpolation (pandas ``interpolate(limit=..., limit_area='inside')``), longer gaps stay NaN
entirely (not filled part-way) and the classifier handles NaN natively.

Feature groups (the first part of each name):
    ``speed.<bp>``       speed of each body point; ``speed.centroid`` of the mean of the body points;
                         ``speed.body_mean`` the mean of the body points' speeds. Speeds are central differences
                         over ``speed_lag_s`` (at least one frame either side), so that tracking jitter weighs
                         about the same at 25, 30 or 50 fps. A still animal's speed is the jitter floor, which in
                         body lengths differs between cameras: on the real data, models trained on per-frame speeds
                         did not carry over to another recording (benchmarks/real_labelled.py, ``tracking_jitter``).
    ``disp.<bp>.net_<seconds>s``  net displacement across each rolling window (first to last frame) divided by
                         its duration, for each body point and the centroid: tracking jitter averages out over the
                         window instead of adding to the speed, so a still animal reads near 0 whatever the
                         camera's resolution (per-frame speeds of a still animal grow with the jitter in body
                         lengths, which is larger in a lower-resolution video).
    ``angvel.heading``   |turning speed| of the tail-base -> nose (or head) axis.
    ``dist.<a>-<b>``     distance between every pair of body points.
    ``angle.head_body``  |angle| between mid-body -> head and head -> nose (needs nose, ears or a head point);
    ``angle.body_bend``  |angle| between tail-base -> mid-body and mid-body -> head. Mid-body is a point named
                         like ``midback``/``bodycentre``, else the mean of the body points; head is the ears'
                         midpoint, else a point named like ``head``/``headcentre``/``neck``.
    ``lowp.<bp>``        1 where the point's likelihood was below ``pcutoff`` (before interpolation);
                         ``lowp.fraction`` the fraction of body points below it.
    ``arena.*``          when arena-fixed points are given: distance of the nose and of the centroid to the
                         nearest wall (edge of the polygon of the corners), and of the centroid to the arena centre.
                         Arena points are located at their median confident position and never used as body points.
    ``pair.<a>~<b>.*``   (I > 1) between two individuals: centroid distance, nose-nose, nose-tailbase both ways,
                         the smallest distance between any two of their points, each one's bearing to the other
                         (|angle| between its heading and the direction to the other's centroid), approach speed
                         (minus the rate of change of the centroid distance).
    Rolling statistics over each window of ``windows_s`` (centred, so a frame sees its past and its future as a
    video rater does; ``window_frames`` gives the odd number of frames nearest to seconds x fps): per-point speeds
    get mean and std, the summary signals (centroid and mean speed, turning speed, angles, ``dist.axis`` the
    tail-base -> nose (or head) length, ``lowp.fraction``, arena and pair distances, approach speed) get mean, std,
    min and max, named ``<signal>.<stat>_<seconds>s``.
With several individuals every individual's features are prefixed with its name (``mouse1.speed.nose``); with one,
there is no prefix, so recordings with the same bodyparts give the same names.
"""
from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_WINDOWS_S = (0.25, 0.5, 1.0, 2.0)
ROLLING_STATS = ('mean', 'std', 'min', 'max')
POINT_ROLLING_STATS = ('mean', 'std')

# The classifier's settings, fixed before any real data were scored (nothing here was tuned on a test recording).
# No early stopping (it would hold out a random validation split of strongly autocorrelated frames); half the
# features per split (max_features) so that the many correlated distances do not all go to one tree; at least
# min_samples_leaf frames per leaf (about 1-2 s of video) so a leaf cannot isolate a few frames of one bout.
GBM_SETTINGS: dict[str, Any] = dict(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40,
                                    l2_regularization=1.0, max_features=0.5, early_stopping=False,
                                    class_weight='balanced')

_NOSE = ('nose', 'snout')
_TAILBASE = ('tailbase', 'tailroot', 'baseoftail', 'tailstart')
_MID = ('midback', 'bodycentre', 'bodycenter', 'midbody', 'centroid', 'spinemid', 'back', 'mid')
_HEAD = ('headcentre', 'headcenter', 'head', 'neck')
_EAR_TOKEN = re.compile(r'^(ears?|ear[lr12]|[lr]ear|leftear|rightear)$')


# ------------------------------------------------------------------ names and roles
def _normalise(name: str) -> str:
    return re.sub(r'[^a-z0-9]', '', name.lower())


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r'([a-z])([A-Z])', r'\1 \2', name)  # camelCase -> camel Case
    return [t for t in re.split(r'[^a-z0-9]+', spaced.lower()) if t]


def _find(names: Sequence[str], candidates: Iterable[str]) -> int | None:
    normal = [_normalise(n) for n in names]
    for candidate in candidates:
        if candidate in normal:
            return normal.index(candidate)
    return None


def _ears(names: Sequence[str]) -> list[int]:
    return [i for i, n in enumerate(names)
            if _EAR_TOKEN.match(_normalise(n)) or any(_EAR_TOKEN.match(t) for t in _tokens(n))]


@dataclass
class Roles:
    """Indices (into the body points) of the points the angles and the body length need; None where absent."""
    nose: int | None
    tailbase: int | None
    mid: int | None
    head: int | None
    ears: list[int] = field(default_factory=list)

    @classmethod
    def from_names(cls, names: Sequence[str]) -> 'Roles':
        return cls(nose=_find(names, _NOSE), tailbase=_find(names, _TAILBASE), mid=_find(names, _MID),
                   head=_find(names, _HEAD), ears=_ears(names))


def window_frames(seconds: float, fps: float) -> int:
    """The odd number of frames nearest to ``seconds * fps`` (ties go up), at least 1: a centred window."""
    if seconds <= 0 or fps <= 0:
        raise ValueError(f'window of {seconds} s at {fps} fps: both must be positive')
    return 2 * int(np.floor((seconds * fps - 1) / 2 + 0.5)) + 1 if seconds * fps >= 1 else 1


# ------------------------------------------------------------------ cleaning
def _run_lengths(mask: np.ndarray) -> np.ndarray:
    """For a boolean (T, C) mask, the length of the run of True each True element belongs to (0 elsewhere)."""
    T, C = mask.shape
    flat = np.vstack([mask, np.zeros((1, C), bool)]).T.ravel()  # (C*(T+1),) column by column, False between
    edges = np.diff(np.concatenate([[0], flat.astype(np.int8)]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    out = np.zeros(flat.shape, np.int64)
    out[flat] = np.repeat(ends - starts, ends - starts)
    return out.reshape(C, T + 1)[:, :T].T  # (T, C)


def interpolate_short_gaps(xy: np.ndarray, missing: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill gaps of at most ``max_gap`` frames linearly; longer gaps and gaps at either end stay NaN.

    Args:
        xy: (T, P, 2) coordinates.
        missing: (T, P) True where the point is missing (low likelihood or NaN).
        max_gap: the longest gap filled, in frames (0: none).
    Returns:
        (T, P, 2) float64 copy.
    """
    import pandas as pd

    T, P, _ = xy.shape
    out = np.where(missing[..., None], np.nan, xy.astype(np.float64))
    if max_gap <= 0 or not missing.any():
        return out
    flat = out.reshape(T, P * 2)  # (T, P*2) x and y of each point side by side
    filled = pd.DataFrame(flat).interpolate(method='linear', limit=max_gap, limit_area='inside').to_numpy(copy=True)
    # pandas fills the first `limit` frames of a longer gap too; such gaps must stay missing entirely
    too_long = np.repeat(_run_lengths(missing) > max_gap, 2, axis=1)  # (T, P*2)
    filled[too_long] = np.nan
    return filled.reshape(T, P, 2)


# ------------------------------------------------------------------ geometry
def _lag_index(T: int, half: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(T)
    after, before = np.minimum(t + half, T - 1), np.maximum(t - half, 0)
    return after, before, np.maximum(after - before, 1)


def _rate(values: np.ndarray, half: int, fps: float) -> np.ndarray:
    """Central difference over ``half`` frames either side (one-sided at the ends), per second. values: (T, ...)."""
    after, before, gap = _lag_index(values.shape[0], half)
    return (values[after] - values[before]) * (fps / gap.reshape((-1,) + (1,) * (values.ndim - 1)))


def _turn_rate(vectors: np.ndarray, half: int, fps: float) -> np.ndarray:
    """|rate of turning| of (T, 2) direction vectors, rad/s, over the same central difference."""
    after, before, gap = _lag_index(vectors.shape[0], half)
    a, b = vectors[before], vectors[after]
    return np.abs(np.arctan2(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0], (a * b).sum(-1))) * fps / gap


def _abs_angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """|angle| between (T, 2) vectors u and v, in [0, pi]."""
    return np.abs(np.arctan2(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0], (u * v).sum(-1)))


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt((v ** 2).sum(-1))


def _head(p: np.ndarray, roles: Roles) -> np.ndarray | None:
    if roles.ears:
        return _nanmean_points(p[:, roles.ears])
    return p[:, roles.head] if roles.head is not None else None


def _mid(p: np.ndarray, roles: Roles) -> np.ndarray:
    return p[:, roles.mid] if roles.mid is not None else _nanmean_points(p)


def _nanmean_points(p: np.ndarray) -> np.ndarray:
    """Mean over points (axis 1) ignoring NaN, NaN where every point is missing, without a warning."""
    ok = ~np.isnan(p[..., 0])
    count = ok.sum(1)
    total = np.where(ok[..., None], p, 0.0).sum(1)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(count[:, None] > 0, total / count[:, None], np.nan)


def body_length(xy: np.ndarray, names: Sequence[str]) -> tuple[float, str]:
    """One body length in pixels for a recording: (length, sentence saying how it was measured).

    Args:
        xy: (T, I, V, 2) body points only, low-likelihood points already NaN.
        names: V bodypart names.
    """
    roles = Roles.from_names(names)
    T, I, V, _ = xy.shape
    per_animal, how = [], ''
    for i in range(I):
        p = xy[:, i]
        head = _head(p, roles)
        if roles.nose is not None and roles.tailbase is not None:
            d, how = _norm(p[:, roles.nose] - p[:, roles.tailbase]), 'median nose-tailbase distance'
        elif head is not None and roles.ears and roles.tailbase is not None:
            d, how = _norm(head - p[:, roles.tailbase]), 'median distance from the ears\' midpoint to the tailbase'
        else:
            pairs = np.array(list(itertools.combinations(range(V), 2)))
            if len(pairs) == 0:
                raise ValueError(f'body length: need at least two body points, got {list(names)}')
            span = _norm(p[:, pairs[:, 0]] - p[:, pairs[:, 1]])  # (T, pairs)
            with np.errstate(invalid='ignore'):
                d = np.where(np.isnan(span).all(1), np.nan, np.nanmax(np.nan_to_num(span, nan=-1.0), axis=1))
            how = 'median over frames of the largest distance between two body points'
        per_animal.append(np.nanmedian(d) if np.isfinite(d).any() else np.nan)
    length = float(np.nanmedian(per_animal)) if np.isfinite(per_animal).any() else np.nan
    if not np.isfinite(length) or length <= 0:
        raise ValueError(f'body length: no frame with both points confident ({how}); bodyparts {list(names)}')
    return length, how + (f', median over {I} individuals' if I > 1 else '')



def tracking_jitter(xy: np.ndarray, score: np.ndarray, names: Sequence[str], pcutoff: float = 0.6) -> float:
    """Tracking jitter of a recording in body lengths, label-free: a robust standard deviation of the second
    difference of the confident positions (x[t+1] - 2 x[t] + x[t-1] has variance 6 sigma^2 for white noise), over
    all points and frames. Real movement adds a little; it compares recordings, it is not a calibration.

    Args:
        xy: (T, I, V, 2) body points; score: (T, I, V); names: V bodypart names.
    """
    confident = np.where((score >= pcutoff)[..., None], xy, np.nan)
    length, _ = body_length(confident, names)
    second = confident[2:] - 2 * confident[1:-1] + confident[:-2]
    return float(np.nanmedian(np.abs(second)) / 0.6745 / np.sqrt(6) / length)

def _arena_geometry(xy: np.ndarray, score: np.ndarray, names: Sequence[str], corners: Sequence[str],
                    centre: str | None, pcutoff: float) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Median confident position of each arena point: (corners (C, 2) ordered around their mean, centre (2,))."""
    def locate(name: str) -> np.ndarray:
        v = list(names).index(name)
        ok = (score[:, :, v] >= pcutoff) & ~np.isnan(xy[:, :, v, 0])  # (T, I)
        if not ok.any():
            raise ValueError(f'arena point {name!r} is never detected with likelihood >= {pcutoff}')
        return np.median(xy[:, :, v][ok], axis=0)

    ring = None
    if corners:
        if len(corners) < 3:
            raise ValueError(f'arena_corners: need at least 3 corners for walls, got {list(corners)}')
        ring = np.stack([locate(c) for c in corners])
        middle = ring.mean(0)
        ring = ring[np.argsort(np.arctan2(ring[:, 1] - middle[1], ring[:, 0] - middle[0]))]
    middle = locate(centre) if centre else (ring.mean(0) if ring is not None else None)
    return ring, middle


def _wall_distance(points: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Distance from (T, 2) points to the nearest edge of the closed polygon ``ring`` (C, 2)."""
    a, b = ring, np.roll(ring, -1, axis=0)  # (C, 2) edge ends
    ab = b - a
    rel = points[:, None, :] - a[None]  # (T, C, 2)
    t = np.clip((rel * ab[None]).sum(-1) / (ab ** 2).sum(-1)[None], 0.0, 1.0)  # (T, C)
    return _norm(rel - t[..., None] * ab[None]).min(1)


# ------------------------------------------------------------------ features
def _rolling(columns: dict[str, np.ndarray], windows: Sequence[tuple[float, int]], stats: Sequence[str]
             ) -> dict[str, np.ndarray]:
    """Centred rolling statistics of each column over each (seconds, frames) window; NaN frames are skipped."""
    import pandas as pd

    if not columns:
        return {}
    frame = pd.DataFrame(columns)
    out: dict[str, np.ndarray] = {}
    for seconds, n in windows:
        roll = frame.rolling(n, center=True, min_periods=1)
        results = {'mean': roll.mean, 'std': lambda: roll.std(ddof=0), 'min': roll.min, 'max': roll.max}
        for stat in stats:
            values = results[stat]().to_numpy(np.float32)
            for k, name in enumerate(frame.columns):
                out[f'{name}.{stat}_{seconds:g}s'] = values[:, k]
    return out


def _individual_features(p: np.ndarray, low: np.ndarray, names: Sequence[str], roles: Roles, fps: float,
                         half: int, windows: Sequence[tuple[float, int]], ring: np.ndarray | None,
                         middle: np.ndarray | None
                         ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(per-frame and window columns, per-point speed columns, summary columns) of one individual; p (T, V, 2)
    in BL."""
    frame: dict[str, np.ndarray] = {}
    summary: dict[str, np.ndarray] = {}
    speeds = _norm(_rate(p, half, fps))  # (T, V) BL/s
    point_speed = {f'speed.{n}': speeds[:, v] for v, n in enumerate(names)}
    centroid = _nanmean_points(p)  # (T, 2)
    summary['speed.centroid'] = _norm(_rate(centroid, half, fps))
    for seconds, n in windows:
        net = _norm(_rate(np.concatenate([p, centroid[:, None]], 1), max(1, n // 2), fps))  # (T, V+1)
        for v, name in enumerate(list(names) + ['centroid']):
            frame[f'disp.{name}.net_{seconds:g}s'] = net[:, v]
    with np.errstate(invalid='ignore'):
        ok = ~np.isnan(speeds)
        summary['speed.body_mean'] = np.where(ok.any(1), np.where(ok, speeds, 0).sum(1) / np.maximum(ok.sum(1), 1),
                                              np.nan)
    for a, b in itertools.combinations(range(len(names)), 2):
        frame[f'dist.{names[a]}-{names[b]}'] = _norm(p[:, a] - p[:, b])
    head, mid = _head(p, roles), _mid(p, roles)
    front = p[:, roles.nose] if roles.nose is not None else head
    back = p[:, roles.tailbase] if roles.tailbase is not None else None
    if front is not None and back is not None:
        summary['angvel.heading'] = _turn_rate(front - back, half, fps)
        summary['dist.axis'] = _norm(front - back)
    if head is not None and roles.nose is not None:
        summary['angle.head_body'] = _abs_angle(head - mid, p[:, roles.nose] - head)
    if head is not None and back is not None:
        summary['angle.body_bend'] = _abs_angle(mid - back, head - mid)
    for v, n in enumerate(names):
        frame[f'lowp.{n}'] = low[:, v].astype(np.float32)
    summary['lowp.fraction'] = low.mean(1).astype(np.float32)
    if ring is not None:
        if front is not None:
            summary['arena.wall_front'] = _wall_distance(front, ring)
        summary['arena.wall_centroid'] = _wall_distance(centroid, ring)
    if middle is not None:
        summary['arena.centre_centroid'] = _norm(centroid - middle)
    return frame, point_speed, summary


def _pair_features(pa: np.ndarray, pb: np.ndarray, roles: Roles, fps: float, half: int
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(per-frame columns, summary columns) between two individuals; pa, pb (T, V, 2) in BL."""
    frame, summary = {}, {}
    ca, cb = _nanmean_points(pa), _nanmean_points(pb)
    distance = _norm(ca - cb)
    summary['dist_centroid'] = distance
    summary['approach'] = -_rate(distance, half, fps)
    every = _norm(pa[:, :, None] - pb[:, None])  # (T, V, V)
    flat = every.reshape(len(every), -1)
    summary['dist_min'] = np.where(np.isnan(flat).all(1), np.nan, np.nanmin(np.nan_to_num(flat, nan=np.inf), 1))
    if roles.nose is not None:
        frame['dist_nose_nose'] = _norm(pa[:, roles.nose] - pb[:, roles.nose])
        if roles.tailbase is not None:
            frame['dist_nose_a_tailbase_b'] = _norm(pa[:, roles.nose] - pb[:, roles.tailbase])
            frame['dist_nose_b_tailbase_a'] = _norm(pb[:, roles.nose] - pa[:, roles.tailbase])
    for tag, p, own, other in (('a', pa, ca, cb), ('b', pb, cb, ca)):
        front = p[:, roles.nose] if roles.nose is not None else _head(p, roles)
        back = p[:, roles.tailbase] if roles.tailbase is not None else None
        if front is not None and back is not None:
            frame[f'bearing_{tag}'] = _abs_angle(front - back, other - own)
    return frame, summary


def hand_features(xy: np.ndarray, score: np.ndarray, fps: float, pcutoff: float = 0.6,
                  windows_s: Sequence[float] = DEFAULT_WINDOWS_S, bodyparts: Sequence[str] | None = None,
                  individuals: Sequence[str] | None = None, exclude: Sequence[str] = (),
                  arena_corners: Sequence[str] = (), arena_centre: str | None = None,
                  max_gap_s: float = 0.2, speed_lag_s: float = 0.1, pose_smooth_s: float = 0.0
                  ) -> tuple[np.ndarray, list[str]]:
    """Per-frame hand-made features of one recording (see the module docstring for what and in which units).

    Args:
        xy: (T, I, V, 2) pixels, NaN where missing.
        score: (T, I, V) likelihood.
        fps: frames per second of the recording; every time constant below is in seconds.
        pcutoff: points below this likelihood are missing (interpolated over short gaps).
        windows_s: rolling-window lengths in seconds (centred; ``window_frames`` converts).
        bodyparts: V names (default ``p0``, ``p1``, ...); the angles and the body length find their points by name.
        individuals: I names, the prefixes of each individual's features when I > 1 (default ``a0``, ``a1``, ...).
        exclude: bodyparts that are not on the animal (arena points, a light): left out of the body features.
        arena_corners: names of arena-corner points (>= 3, any order) for distance-to-wall features.
        arena_centre: name of an arena-centre point for the distance-to-centre feature (default: the corners' mean).
        max_gap_s: longest gap of missing frames filled by linear interpolation, seconds.
        speed_lag_s: span of the central difference of speeds, seconds (at least one frame either side).
        pose_smooth_s: centred running median of the positions over this many seconds after the gaps are filled
            (0: none), to damp tracking jitter before anything is measured.
    Returns:
        features (T, F) float32 (NaN where a point stays missing) and the F names.
    Raises:
        ValueError: shapes disagree, a name in ``exclude``/arena is not a bodypart, or nothing is left to measure.
    """
    xy, score = np.asarray(xy), np.asarray(score)
    if xy.ndim != 4 or xy.shape[-1] != 2 or score.shape != xy.shape[:3]:
        raise ValueError(f'hand_features: xy must be (T, I, V, 2) and score (T, I, V); got {xy.shape} and '
                         f'{score.shape}')
    T, I, V, _ = xy.shape
    if fps <= 0:
        raise ValueError(f'hand_features: fps must be positive, got {fps}')
    names = list(bodyparts) if bodyparts is not None else [f'p{v}' for v in range(V)]
    animals = list(individuals) if individuals is not None else [f'a{i}' for i in range(I)]
    if len(names) != V or len(animals) != I:
        raise ValueError(f'hand_features: {len(names)} bodypart names for V={V}, {len(animals)} individual names '
                         f'for I={I}')
    arena = list(arena_corners) + ([arena_centre] if arena_centre else [])
    for name in list(exclude) + arena:
        if name not in names:
            raise ValueError(f'hand_features: {name!r} (in exclude or arena) is not a bodypart; bodyparts are '
                             f'{names}')
    body = [v for v, n in enumerate(names) if n not in set(exclude) | set(arena)]
    if len(body) < 2:
        raise ValueError(f'hand_features: fewer than two body points left after excluding {list(exclude) + arena}')
    body_names = [names[v] for v in body]
    roles = Roles.from_names(body_names)
    windows = [(float(s), window_frames(s, fps)) for s in windows_s]
    half = max(1, int(np.floor(speed_lag_s * fps / 2 + 0.5)))
    ring, middle = _arena_geometry(xy, score, names, arena_corners, arena_centre, pcutoff) if arena else (None, None)

    low = (score[:, :, body] < pcutoff) | np.isnan(xy[:, :, body, 0])  # (T, I, B)
    max_gap = int(np.floor(max_gap_s * fps + 1e-9))
    clean = interpolate_short_gaps(xy[:, :, body].reshape(T, I * len(body), 2), low.reshape(T, -1), max_gap)
    clean = clean.reshape(T, I, len(body), 2)  # (T, I, B, 2) pixels
    if pose_smooth_s > 0:
        import pandas as pd
        n = window_frames(pose_smooth_s, fps)
        flat = pd.DataFrame(clean.reshape(T, -1)).rolling(n, center=True, min_periods=1).median()
        clean = np.where(np.isnan(clean), np.nan, flat.to_numpy().reshape(clean.shape))  # gaps stay gaps
    scale, how = body_length(clean, body_names)
    logger.debug('body length %.1f px (%s)', scale, how)
    clean = clean / scale
    if ring is not None:
        ring = ring / scale
    if middle is not None:
        middle = middle / scale

    columns: dict[str, np.ndarray] = {}
    for i in range(I):
        prefix = f'{animals[i]}.' if I > 1 else ''
        frame, point_speed, summary = _individual_features(clean[:, i], low[:, i], body_names, roles, fps, half,
                                                           windows, ring, middle)
        block = {**point_speed, **summary, **frame, **_rolling(point_speed, windows, POINT_ROLLING_STATS),
                 **_rolling(summary, windows, ROLLING_STATS)}
        columns.update({prefix + k: v for k, v in block.items()})
    for a, b in itertools.combinations(range(I), 2):
        frame, summary = _pair_features(clean[:, a], clean[:, b], roles, fps, half)
        block = {**summary, **frame, **_rolling(summary, windows, ROLLING_STATS)}
        columns.update({f'pair.{animals[a]}~{animals[b]}.{k}': v for k, v in block.items()})
    names_out = list(columns)
    features = np.empty((T, len(names_out)), np.float32)
    for k, name in enumerate(names_out):
        features[:, k] = columns[name]
    return features, names_out


def feature_group(name: str) -> str:
    """The group of a feature name: movement, posture, occlusion, arena or pair (see the module docstring)."""
    if name.startswith('pair.'):
        return 'pair'
    kinds = {'speed': 'movement', 'disp': 'movement', 'angvel': 'movement', 'dist': 'posture', 'angle': 'posture',
             'lowp': 'occlusion', 'arena': 'arena'}
    parts = name.split('.')
    kind = parts[0] if parts[0] in kinds else parts[1] if len(parts) > 1 else parts[0]  # after an individual's name
    if kind not in kinds:
        raise ValueError(f'feature_group: {name!r} is not a hand_features name')
    return kinds[kind]


def is_rolling(name: str) -> bool:
    """True for a rolling-window statistic (``....mean_0.5s``, ``disp....net_0.5s``)."""
    return re.search(r'\.(mean|std|min|max|net)_[0-9.]+s$', name) is not None


# ------------------------------------------------------------------ classifier
@dataclass
class BaselineModel:
    """A fitted classifier and the number of classes of the task (columns of ``predict_baseline``)."""
    classifier: Any
    num_class: int
    settings: dict


def fit_baseline(features_list: Sequence[np.ndarray], labels_list: Sequence[np.ndarray], seed: int = 0,
                 num_class: int | None = None, **settings: Any) -> BaselineModel:
    """Fit ``HistGradientBoostingClassifier`` on the labelled frames of one or more recordings.

    Args:
        features_list: per recording, (T_r, F) features (same F and order everywhere).
        labels_list: per recording, (T_r,) integer labels in [0, num_class), -1 for frames not to train on.
        seed: ``random_state`` of the classifier (the feature subsampling of each split).
        num_class: K, the classes of the task (default: the largest label + 1); classes without a training frame
            get probability 0.
        settings: overrides of ``GBM_SETTINGS``.
    Raises:
        ValueError: mismatched lists or shapes, labels out of range, fewer than two classes to learn.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    if len(features_list) != len(labels_list) or not features_list:
        raise ValueError(f'fit_baseline: {len(features_list)} feature arrays and {len(labels_list)} label arrays')
    widths = {np.asarray(f).shape[1] for f in features_list}
    if len(widths) != 1:
        raise ValueError(f'fit_baseline: recordings have different numbers of features {sorted(widths)}')
    xs, ys = [], []
    for r, (features, labels) in enumerate(zip(features_list, labels_list)):
        features, labels = np.asarray(features), np.asarray(labels).astype(np.int64)
        if labels.shape != (features.shape[0],):
            raise ValueError(f'fit_baseline: recording {r} has {features.shape[0]} feature rows and labels of '
                             f'shape {labels.shape}')
        keep = labels >= 0
        xs.append(features[keep])
        ys.append(labels[keep])
    x, y = np.concatenate(xs), np.concatenate(ys)
    lowest = min(int(np.min(labels)) for labels in labels_list if len(labels))
    K = int(num_class) if num_class is not None else int(y.max()) + 1 if len(y) else 0
    if lowest < -1 or (len(y) and y.max() >= K):
        raise ValueError(f'fit_baseline: labels must be -1 or in [0, {K}); got values from {lowest} to '
                         f'{int(y.max()) if len(y) else lowest}')
    if len(np.unique(y)) < 2:
        raise ValueError(f'fit_baseline: the labelled frames hold {len(np.unique(y))} class(es); need at least two')
    params = {**GBM_SETTINGS, **settings, 'random_state': seed}
    classifier = HistGradientBoostingClassifier(**params).fit(x, y)
    return BaselineModel(classifier=classifier, num_class=K, settings=params)


def predict_baseline(model: BaselineModel, features: np.ndarray) -> np.ndarray:
    """Per-frame class probabilities (T, K) float32; classes the model never saw get 0."""
    probs = np.zeros((len(features), model.num_class), np.float32)
    probs[:, model.classifier.classes_] = model.classifier.predict_proba(np.asarray(features))
    return probs


def smooth_probs(probs: np.ndarray, fps: float, window_s: float) -> np.ndarray:
    """Centred running mean of (T, K) probabilities over ``window_frames(window_s, fps)`` frames (shorter at ends)."""
    import pandas as pd

    n = window_frames(window_s, fps)
    return pd.DataFrame(probs).rolling(n, center=True, min_periods=1).mean().to_numpy(np.float32)
