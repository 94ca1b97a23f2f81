"""Skeleton-sequence augmentations of the original ST-GCN (its metrics are in processor/report.py).

Every augmentation takes and returns a numpy array of shape (C, T, V, M):
C channels (x, y, score or x, y, z), T frames, V joints, M persons. Unlike the
original, none of them modifies its input in place (a memory-mapped sample may
be read-only), and each one that draws random numbers takes an optional
``rng: np.random.Generator``; with ``rng=None`` numpy's global RNG is used, so
``np.random.seed`` keeps working as before.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ['downsample', 'temporal_slice', 'mean_subtractor', 'auto_pading', 'random_choose',
           'random_move', 'random_shift', 'openpose_match', 'original_augmentations']


# ---------------------------------------------------------------- random helpers
def _randint(rng: np.random.Generator | None, low: int, high: int) -> int:
    """A random integer in [low, high], both ends included (as ``random.randint``)."""
    if rng is None:
        return int(np.random.randint(low, high + 1))
    return int(rng.integers(low, high + 1))


def _choice(rng: np.random.Generator | None, candidates: Sequence[float], size: int | None = None):
    if rng is None:
        return np.random.choice(candidates, size)
    return rng.choice(candidates, size)


def _check_ctvm(data: np.ndarray, name: str) -> None:
    if data.ndim != 4:
        raise ValueError(f'{name}: expected an array of shape (C, T, V, M), got shape {data.shape}')


def _valid_frame_range(data: np.ndarray) -> tuple[int, int]:
    """[begin, end) of the frames that hold any non-zero value."""
    valid_frame = (data != 0).any(axis=(0, 2, 3))  # (T,)
    begin = int(valid_frame.argmax())
    end = len(valid_frame) - int(valid_frame[::-1].argmax())
    return begin, end


# ---------------------------------------------------------------- temporal
def downsample(data: np.ndarray, step: int, random_sample: bool = True,
               rng: np.random.Generator | None = None) -> np.ndarray:
    """Keep every ``step``-th frame, starting at a random offset in [0, step) if ``random_sample``."""
    _check_ctvm(data, 'downsample')
    if step < 1:
        raise ValueError(f'downsample: step must be >= 1, got {step}')
    begin = _randint(rng, 0, step - 1) if random_sample else 0
    return data[:, begin::step, :, :]


def temporal_slice(data: np.ndarray, step: int) -> np.ndarray:
    """Fold ``step`` consecutive frames into the person axis: (C, T, V, M) -> (C, T/step, V, step*M)."""
    _check_ctvm(data, 'temporal_slice')
    C, T, V, M = data.shape
    if step < 1 or T % step:
        raise ValueError(f'temporal_slice: T={T} frames is not a multiple of step={step}')
    # (C, T/step, step, V, M) -> (C, T/step, V, step, M) -> (C, T/step, V, step*M)
    return data.reshape(C, T // step, step, V, M).transpose(0, 1, 3, 2, 4).reshape(C, T // step, V, step * M)


def mean_subtractor(data: np.ndarray, mean: float | np.ndarray) -> np.ndarray:
    """Subtract ``mean`` from every frame up to the last non-empty one (a no-op for mean == 0)."""
    _check_ctvm(data, 'mean_subtractor')
    if np.all(np.asarray(mean) == 0):
        return data
    _, end = _valid_frame_range(data)
    out = np.array(data, copy=True)
    out[:, :end, :, :] = out[:, :end, :, :] - mean
    return out


def auto_pading(data: np.ndarray, size: int, random_pad: bool = False,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """Zero-pad a clip shorter than ``size`` frames to ``size`` frames (at a random offset if ``random_pad``).

    Clips of ``size`` frames or more are returned unchanged. (The name keeps the original's spelling.)
    """
    _check_ctvm(data, 'auto_pading')
    C, T, V, M = data.shape
    if T >= size:
        return data
    begin = _randint(rng, 0, size - T) if random_pad else 0
    padded = np.zeros((C, size, V, M), dtype=data.dtype)
    padded[:, begin:begin + T, :, :] = data
    return padded


def random_choose(data: np.ndarray, size: int, auto_pad: bool = True,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """A random window of ``size`` frames; shorter clips are randomly zero-padded if ``auto_pad``."""
    _check_ctvm(data, 'random_choose')
    T = data.shape[1]
    if T == size:
        return data
    if T < size:
        return auto_pading(data, size, random_pad=True, rng=rng) if auto_pad else data
    begin = _randint(rng, 0, T - size)
    return data[:, begin:begin + size, :, :]


def random_shift(data: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Move the non-empty span of frames to a random position in the clip, zeros elsewhere."""
    _check_ctvm(data, 'random_shift')
    T = data.shape[1]
    shifted = np.zeros_like(data)
    begin, end = _valid_frame_range(data)
    size = end - begin
    bias = _randint(rng, 0, T - size)
    shifted[:, bias:bias + size, :, :] = data[:, begin:end, :, :]
    return shifted


# ---------------------------------------------------------------- spatial
def original_augmentations(data: np.ndarray, shift: bool = False, choose: bool = False, window_size: int = -1,
                           move: bool = False) -> np.ndarray:
    """The original feeders' chain on a (C, T, V, M) sample: :func:`random_shift`, then :func:`random_choose` of
    ``window_size`` frames (or zero-padding to ``window_size`` when it is positive), then :func:`random_move`; each
    step only when asked for."""
    if shift:
        data = random_shift(data)
    if choose:
        data = random_choose(data, window_size)
    elif window_size > 0:
        data = auto_pading(data, window_size)
    if move:
        data = random_move(data)
    return data


def random_move(data: np.ndarray,
                angle_candidate: Sequence[float] = (-10., -5., 0., 5., 10.),
                scale_candidate: Sequence[float] = (0.9, 1.0, 1.1),
                transform_candidate: Sequence[float] = (-0.2, -0.1, 0.0, 0.1, 0.2),
                move_time_candidate: Sequence[int] = (1,),
                rng: np.random.Generator | None = None) -> np.ndarray:
    """Rotate (degrees), scale and translate x, y, interpolating the transform linearly over time.

    The clip is cut into ``move_time`` pieces; at each piece boundary an angle, a scale and an
    (x, y) translation are drawn from the candidates and the transform moves linearly between
    them within the piece, as in the original. Channels other than x, y are left as they are.
    """
    _check_ctvm(data, 'random_move')
    C, T, V, M = data.shape
    move_time = int(_choice(rng, list(move_time_candidate)))
    node = np.arange(0, T, T * 1.0 / move_time).round().astype(int)
    node = np.append(node, T)
    num_node = len(node)

    A = _choice(rng, list(angle_candidate), num_node)
    S = _choice(rng, list(scale_candidate), num_node)
    T_x = _choice(rng, list(transform_candidate), num_node)
    T_y = _choice(rng, list(transform_candidate), num_node)

    a = np.zeros(T)
    s = np.zeros(T)
    t_x = np.zeros(T)
    t_y = np.zeros(T)
    for i in range(num_node - 1):  # a handful of pieces, not frames
        length = node[i + 1] - node[i]
        a[node[i]:node[i + 1]] = np.linspace(A[i], A[i + 1], length) * np.pi / 180
        s[node[i]:node[i + 1]] = np.linspace(S[i], S[i + 1], length)
        t_x[node[i]:node[i + 1]] = np.linspace(T_x[i], T_x[i + 1], length)
        t_y[node[i]:node[i + 1]] = np.linspace(T_y[i], T_y[i + 1], length)

    theta = np.array([[np.cos(a) * s, -np.sin(a) * s],
                      [np.sin(a) * s, np.cos(a) * s]])  # (2, 2, T)

    out = np.array(data, copy=True)
    xy = data[0:2].astype(np.float64)  # (2, T, V, M)
    new_xy = np.einsum('ijt,jtvm->itvm', theta, xy)  # (2, T, V, M)
    new_xy[0] += t_x[:, None, None]
    new_xy[1] += t_y[:, None, None]
    out[0:2] = new_xy
    return out


# ---------------------------------------------------------------- persons
def openpose_match(data: np.ndarray) -> np.ndarray:
    """Re-order persons so that each person slot follows one body across frames (the original's matcher).

    Frame by frame, persons are matched to the nearest pose of the previous frame (squared x, y
    distance), most confident first; then the person slots are sorted by their total score.
    Expects C == 3 (x, y, score).
    """
    _check_ctvm(data, 'openpose_match')
    C, T, V, M = data.shape
    if C != 3:
        raise ValueError(f'openpose_match: expected 3 channels (x, y, score), got C={C}')
    if T < 2:
        return data
    score = data[2].sum(axis=1)  # (T, M)
    # rank of body confidence in each frame, (T-1, M)
    rank = (-score[0:T - 1]).argsort(axis=1).reshape(T - 1, M)
    xy1 = data[0:2, 0:T - 1].reshape(2, T - 1, V, M, 1)  # frame t
    xy2 = data[0:2, 1:T].reshape(2, T - 1, V, 1, M)      # frame t + 1
    distance = ((xy2 - xy1) ** 2).sum(axis=2).sum(axis=0)  # (T-1, M, M)

    forward_map = np.full((T, M), -1, dtype=int)
    forward_map[0] = np.arange(M)
    frames = np.arange(T - 1)
    for m in range(M):
        choose = rank == m  # one True per row
        forward = distance[choose].argmin(axis=1)  # (T-1,)
        distance[frames, :, forward] = np.inf
        forward_map[1:][choose] = forward
    assert np.all(forward_map >= 0)

    # chain the frame-to-frame matches into whole tracks
    for t in range(T - 1):
        forward_map[t + 1] = forward_map[t + 1][forward_map[t]]

    matched = np.take_along_axis(data, forward_map[None, :, None, :], axis=3)  # (C, T, V, M)
    trace_score = matched[2].sum(axis=1).sum(axis=0)  # (M,)
    return matched[:, :, :, (-trace_score).argsort()]
