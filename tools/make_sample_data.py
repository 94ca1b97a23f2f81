"""Write a small, deterministic, DeepLabCut-style sample project for the 12-node ``rat`` layout.

The sample is what a newcomer runs first (the quick start), so it is built to look like real DeepLabCut output:
single-animal analysis CSVs with the scorer/bodyparts/coords header, float32 coordinates written at full precision,
likelihoods that are mostly 0.9 to 1.0, short likelihood dips, and occlusions where a point's likelihood falls below
0.6 while its coordinate jumps or snaps onto another bodypart. Each recording is one simulated animal seen by a camera
above the arena, doing one behaviour for the whole recording (the label comes from the folder)::

    <out>/config.yaml                                         DeepLabCut project config (bodyparts, skeleton, ...)
    <out>/csv_data/<behaviour>/<recording><SCORER>.csv        recordings of the five normal behaviours
    <out>/abnormal/<recording><SCORER>.csv                    seizure-like recordings kept out of training

How each frame is made: a rest pose of the twelve bodyparts in the animal's own frame (u forward along the spine,
w to the animal's right, in pixels for a reference animal whose nose is 80 px from its tail base in a 480-px-high
frame) is deformed by the behaviour's kinematic model (paw strides, front-body foreshortening, head yaw and pitch,
body bending along an arc, a two-segment tail), then scaled by the animal's size, rotated by its heading and moved to
its position in the frame; detection noise, likelihoods and occlusions are added last.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _path in (_REPO, os.path.join(_REPO, 'torchlight')):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import numpy as np  # noqa: E402

from torchlight import atomic_write, run_cli  # noqa: E402

logger = logging.getLogger(__name__)

BODYPARTS: tuple[str, ...] = ('nose', 'left_ear', 'right_ear', 'neck', 'left_forepaw', 'right_forepaw', 'spine',
                              'left_hindpaw', 'right_hindpaw', 'tail_base', 'tail_mid', 'tail_tip')
# The edges of the 12-node ``rat`` layout, by node index (index = position in BODYPARTS).
SKELETON: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (3, 6), (4, 6), (5, 6), (6, 7), (6, 8), (6, 9),
                                         (9, 10), (10, 11))
BEHAVIOURS: tuple[str, ...] = ('walking', 'rearing', 'grooming', 'resting', 'turning')
ABNORMAL_BEHAVIOUR = 'seizure'
TASK = 'ratsample'
EXPERIMENTER = 'stgcn'
DATE = 'Nov26'
SCORER = f'DLC_resnet50_{TASK}{DATE}shuffle1_100000'
PCUTOFF = 0.6

NOSE, LEAR, REAR, NECK, LFORE, RFORE, SPINE, LHIND, RHIND, TBASE, TMID, TTIP = range(12)
FRONT = [NOSE, LEAR, REAR, NECK, LFORE, RFORE]
HEAD = [NOSE, LEAR, REAR]
PAWS = [LFORE, RFORE, LHIND, RHIND]

# Rest pose (u forward, w to the animal's right), pixels of the reference animal; tail points are rebuilt from the
# tail-base position, so only their segment lengths matter.
_REST_POSE = np.array([
    [40.0, 0.0],  # nose
    [24.0, -8.0],  # left_ear
    [24.0, 8.0],  # right_ear
    [18.0, 0.0],  # neck
    [12.0, -11.0],  # left_forepaw
    [12.0, 11.0],  # right_forepaw
    [0.0, 0.0],  # spine
    [-24.0, -13.0],  # left_hindpaw
    [-24.0, 13.0],  # right_hindpaw
    [-40.0, 0.0],  # tail_base
    [-72.0, 0.0],  # tail_mid
    [-104.0, 0.0],  # tail_tip
])
_TAIL_SEGMENTS = (32.0, 32.0)
_BODY_RADIUS = 48.0  # reference-animal distance from the spine point to the farthest non-tail point, plus paws
_REFERENCE_HEIGHT = 480.0

# Detection noise multiplier and log10(1 - likelihood) centre per bodypart (harder points: noisier, less sure).
_NOISE_SCALE = np.array([1.0, 1.0, 1.0, 1.3, 1.4, 1.4, 1.5, 1.4, 1.4, 1.1, 1.4, 1.8])
_CONFIDENCE = np.array([-2.6, -2.4, -2.4, -2.2, -1.9, -1.9, -2.3, -1.9, -1.9, -2.3, -1.9, -1.5])
# Occlusion onsets per second per bodypart, before the behaviour's multipliers.
_OCCLUSION_RATE = np.array([0.02, 0.03, 0.03, 0.02, 0.05, 0.05, 0.02, 0.05, 0.05, 0.02, 0.04, 0.08])


@dataclass(frozen=True)
class Animal:
    """One simulated animal: its size (pixels per reference pixel) and its own small deviations from the rest pose."""

    scale: float
    pose: np.ndarray  # (V, 2) rest pose in the animal's frame, reference pixels


@dataclass
class Kinematics:
    """Per-frame parameters of the body model, all arrays of length T (frames) unless noted."""

    cx: np.ndarray  # position of the spine point in the image, pixels
    cy: np.ndarray
    heading: np.ndarray  # radians, image coordinates (x right, y down)
    bend: np.ndarray  # body curvature, 1 / reference pixel (positive: C-shape open to the animal's right)
    head_yaw: np.ndarray  # radians, head rotated about the neck
    head_pitch: np.ndarray  # 1 = level head; < 1 foreshortens the head along its axis
    front: np.ndarray  # 1 = normal; < 1 foreshortens the front body about the spine point (hunching)
    lift: np.ndarray  # 0 = on four paws; > 0 foreshortens the body in front of the hips by this fraction (rearing)
    front_width: np.ndarray  # lateral scale of the front body (closer to the camera when rearing)
    width: np.ndarray  # lateral scale of the whole body (breathing)
    paws: np.ndarray  # (T, 4, 2) offsets of left/right fore/hind paws, reference pixels, animal frame
    tail: np.ndarray  # (T, 2) extra bend at the tail base and at tail_mid, radians
    tail_length: np.ndarray  # scale of the tail segments (a raised tail looks shorter from above)
    jitter: np.ndarray  # (T, V, 2) additive image-space displacement, pixels (tremor)
    occlusion: np.ndarray  # (V,) multiplier of the occlusion rate per bodypart

    @classmethod
    def still(cls, n_frames: int, cx: float, cy: float, heading: float) -> 'Kinematics':
        """An animal standing still at (cx, cy), facing ``heading``; behaviours edit the fields they move."""
        ones = np.ones(n_frames)
        return cls(cx=cx * ones, cy=cy * ones, heading=heading * ones, bend=np.zeros(n_frames),
                   head_yaw=np.zeros(n_frames), head_pitch=ones.copy(), front=ones.copy(), lift=np.zeros(n_frames),
                   front_width=ones.copy(), width=ones.copy(), paws=np.zeros((n_frames, 4, 2)),
                   tail=np.zeros((n_frames, 2)), tail_length=ones.copy(),
                   jitter=np.zeros((n_frames, len(BODYPARTS), 2)), occlusion=np.ones(len(BODYPARTS)))


# ---------------------------------------------------------------- random signals

def _ou(rng: np.random.Generator, n: int, fps: float, sigma: float, tau: float) -> np.ndarray:
    """Ornstein-Uhlenbeck noise: stationary std ``sigma``, correlation time ``tau`` seconds."""
    a = np.exp(-1.0 / (fps * tau))
    steps = rng.normal(0.0, sigma * np.sqrt(1.0 - a * a), n)
    out = np.empty(n)
    value = rng.normal(0.0, sigma)
    for i in range(n):
        value = a * value + steps[i]
        out[i] = value
    return out


def _smooth(signal: np.ndarray, fps: float, seconds: float) -> np.ndarray:
    """Hann-window smoothing over ``seconds`` (edges padded with the end values)."""
    width = max(int(round(seconds * fps)), 1)
    if width < 2:
        return signal.astype(float)
    window = np.hanning(width + 2)[1:-1]
    window /= window.sum()
    padded = np.pad(signal.astype(float), (width, width), mode='edge')
    return np.convolve(padded, window, mode='same')[width:-width]


def _segments(rng: np.random.Generator, n: int, fps: float,
              draw: Callable[[np.random.Generator, int], tuple[float, float]]) -> np.ndarray:
    """Piecewise-constant signal: ``draw(rng, k)`` gives the k-th segment's (value, duration in seconds)."""
    out = np.empty(n)
    start, k = 0, 0
    while start < n:
        value, seconds = draw(rng, k)
        stop = min(n, start + max(1, int(round(seconds * fps))))
        out[start:stop] = value
        start, k = stop, k + 1
    return out


def _triangle(phase: np.ndarray, stance: float = 0.6) -> np.ndarray:
    """Paw position over a stride, in [-1, 1]: forward swing then a slower backward stance sweep."""
    p = np.mod(phase / (2 * np.pi), 1.0)
    swing = 1.0 - stance
    return np.where(p < swing, -1.0 + 2.0 * p / swing, 1.0 - 2.0 * (p - swing) / stance)


# ---------------------------------------------------------------- behaviours

def _walking(k: Kinematics, rng: np.random.Generator, fps: float, box: tuple[float, float, float, float],
             scale: float) -> None:
    """Walks along its heading with a diagonal-pair (trot-like) stride, tail sway, and turns away from walls."""
    n = len(k.cx)
    speed, speed_t, stride, curvature = _walker(rng, n, fps, scale)
    x0, y0, x1, y1 = box
    x, y, heading = k.cx[0], k.cy[0], k.heading[0]
    turn_rate = np.empty(n)
    for i in range(n):
        omega = curvature[i] * speed_t[i] + _wall_turn(x, y, heading, 1.2 * speed, box)
        omega = float(np.clip(omega, -3.0, 3.0))
        turn_rate[i] = omega
        k.cx[i], k.cy[i], k.heading[i] = x, y, heading
        heading += omega / fps
        x = float(np.clip(x + np.cos(heading) * speed_t[i] / fps, x0, x1))
        y = float(np.clip(y + np.sin(heading) * speed_t[i] / fps, y0, y1))
    _stride_gait(k, rng, fps, speed_t, turn_rate, stride, scale)


def _walker(rng: np.random.Generator, n: int, fps: float,
            scale: float) -> tuple[float, np.ndarray, float, np.ndarray]:
    """A walker's own pace: (speed, pixels / second: 0.55 to 1.1 body lengths a second; that speed over the frames,
    varying by +-20 % over 2.5 to 7 s; stride, pixels per stride; path curvature over the frames, 1 / pixel)."""
    speed = rng.uniform(0.55, 1.1) * 80.0 * scale
    speed_t = speed * (1.0 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.15, 0.4) * np.arange(n) / fps
                                          + rng.uniform(0, 2 * np.pi)))
    stride = rng.uniform(30.0, 42.0) * scale
    curvature = _ou(rng, n, fps, rng.uniform(0.002, 0.006) / scale, 1.0)
    return speed, speed_t, stride, curvature


def _wall_turn(x: float, y: float, heading: float, lookahead: float, box: tuple[float, float, float, float],
               rate: float = 2.5) -> float:
    """Turn rate (radians / second) towards the arena centre when the point ``lookahead`` pixels ahead is outside
    ``box``, else 0."""
    x0, y0, x1, y1 = box
    if x0 < x + np.cos(heading) * lookahead < x1 and y0 < y + np.sin(heading) * lookahead < y1:
        return 0.0
    to_centre = np.arctan2((y0 + y1) / 2 - y, (x0 + x1) / 2 - x)
    return rate * float(np.sign(np.sin(to_centre - heading)) or 1.0)


def _stride_gait(k: Kinematics, rng: np.random.Generator, fps: float, speed_t: np.ndarray, turn_rate: np.ndarray,
                 stride: float, scale: float) -> None:
    """The body of a walking animal: diagonal-pair (trot-like) paw strides of ``stride`` pixels at the speed
    ``speed_t`` (pixels / second), the body bent along its path's curvature (``turn_rate``, radians / second), head
    bob and tail sway at the stride rhythm."""
    n = len(k.cx)
    phase = 2 * np.pi * np.cumsum(speed_t / stride) / fps + rng.uniform(0, 2 * np.pi)
    reach = stride / scale / 4.0  # paw excursion in reference pixels
    for paw, offset in zip(range(4), (0.0, np.pi, np.pi, 0.0)):  # LF+RH together, RF+LH together
        k.paws[:, paw, 0] = reach * _triangle(phase + offset)
        k.paws[:, paw, 1] = 1.5 * np.maximum(np.sin(phase + offset), 0) * (-1 if paw in (0, 2) else 1)
    k.bend[:] = _smooth(turn_rate / np.maximum(speed_t, 1.0), fps, 0.3) * scale * 0.8 + 0.002 * np.sin(phase)
    k.head_yaw[:] = 0.06 * np.sin(phase) + _ou(rng, n, fps, 0.12, 0.8)
    sway = rng.uniform(0.12, 0.25)
    k.tail[:, 0] = sway * np.sin(phase + np.pi / 2)
    k.tail[:, 1] = 1.6 * sway * np.sin(phase + np.pi / 2 - 0.9)


def _rearing(k: Kinematics, rng: np.random.Generator, fps: float, box: tuple[float, float, float, float],
             scale: float) -> None:
    """Rises and comes down again every 1.5 to 3.5 s: the body in front of the hips foreshortened by 40 to 60 %
    towards them (seen from above), forepaws lifted to the chest, head scanning while up."""
    n = len(k.cx)
    durations = [(rng.uniform(0.3, 0.8), 0.0), (rng.uniform(0.25, 0.45), None), (rng.uniform(0.5, 1.3), 1.0),
                 (rng.uniform(0.25, 0.4), None)]
    rise = np.empty(n)
    i, cycle, first = 0, 0, int(rng.integers(0, 4))
    while i < n:
        for j in range(4):
            if cycle == 0 and j < first:
                continue
            seconds, level = durations[j]
            seconds *= rng.uniform(0.75, 1.3)
            m = max(1, int(round(seconds * fps)))
            stop = min(n, i + m)
            ramp = np.arange(i, stop) - i
            if level is None:  # rise (j == 1) or fall (j == 3): raised-cosine ramp
                shape = 0.5 - 0.5 * np.cos(np.pi * (ramp + 1) / m)
                rise[i:stop] = shape if j == 1 else 1.0 - shape
            else:
                rise[i:stop] = level
            i = stop
            if i >= n:
                break
        cycle += 1
    depth = rng.uniform(0.4, 0.6) * (1.0 + 0.1 * _ou(rng, n, fps, 1.0, 2.0))
    k.lift[:] = depth * rise
    k.front_width[:] = 1.0 + 0.2 * rise
    k.head_pitch[:] = 1.0 - 0.25 * rise
    k.head_yaw[:] = rise * 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 1.2) * np.arange(n) / fps
                                        + rng.uniform(0, 2 * np.pi)) + _ou(rng, n, fps, 0.1, 0.6)
    for paw, side in ((0, -1.0), (1, 1.0)):  # forepaws to the chest, towards the midline
        k.paws[:, paw, 0] = 6.0 * rise
        k.paws[:, paw, 1] = -side * 7.0 * rise
    for paw, side in ((2, -1.0), (3, 1.0)):  # hind paws under the body, a little apart
        k.paws[:, paw, 0] = 5.0 * rise
        k.paws[:, paw, 1] = side * 2.0 * rise
    k.bend[:] = _ou(rng, n, fps, 0.002, 1.5)
    k.tail[:, 0] = _ou(rng, n, fps, 0.15, 2.0)
    k.tail[:, 1] = _ou(rng, n, fps, 0.25, 2.0)
    _drift(k, rng, fps, box, 3.0 * scale, 0.15)
    k.occlusion[[LFORE, RFORE]] = 3.0
    k.occlusion[[LHIND, RHIND]] = 2.0


def _grooming(k: Kinematics, rng: np.random.Generator, fps: float, box: tuple[float, float, float, float],
              scale: float) -> None:
    """Sits hunched and strokes its face (or, for a few seconds at a time, a flank) with both forepaws at 4.5 to 7
    strokes a second; the head nods with the strokes; the body hardly moves."""
    n = len(k.cx)
    freq = rng.uniform(4.5, 7.0) * (1.0 + 0.05 * _ou(rng, n, fps, 1.0, 1.0))
    phase = 2 * np.pi * np.cumsum(freq) / fps + rng.uniform(0, 2 * np.pi)
    envelope = np.clip(0.75 + 0.25 * _ou(rng, n, fps, 1.0, 1.5), 0.5, 1.0)
    amplitude = rng.uniform(12.0, 18.0) * envelope  # stroke length, reference pixels
    side = _segments(rng, n, fps, lambda r, i: (0.0 if (i % 2 == 0 or r.random() < 0.4) else r.choice([-1.0, 1.0]),
                                                r.uniform(2.0, 5.0)))
    side = _smooth(side, fps, 0.4)
    k.front[:] = rng.uniform(0.78, 0.88)
    k.head_pitch[:] = 0.85 - 0.1 * envelope * (0.5 + 0.5 * np.sin(phase + 0.5))
    k.head_yaw[:] = 0.7 * side + 0.05 * np.sin(phase / 2) + _ou(rng, n, fps, 0.05, 0.5)
    k.bend[:] = 0.01 * side + _ou(rng, n, fps, 0.001, 2.0)
    lag = rng.uniform(0.0, 0.6)
    for paw, sgn, extra in ((0, -1.0, 0.0), (1, 1.0, lag)):
        stroke = np.sin(phase + extra)
        # paws travel from the chest (u 12) to the face (u about 30), close to the midline
        k.paws[:, paw, 0] = 14.0 + 0.5 * amplitude + 0.5 * amplitude * stroke - 4.0 * np.abs(side)
        k.paws[:, paw, 1] = -sgn * (6.0 - 1.5 * stroke) + 6.0 * side
    k.paws[:, 2:, 0] = 4.0  # hind paws drawn forwards under the sitting body
    k.tail[:, 0] = 0.3 * side + _ou(rng, n, fps, 0.15, 3.0)
    k.tail[:, 1] = _ou(rng, n, fps, 0.3, 3.0)
    _drift(k, rng, fps, box, 1.0 * scale, 0.03)
    k.occlusion[[LFORE, RFORE]] = 4.0


def _resting(k: Kinematics, rng: np.random.Generator, fps: float, box: tuple[float, float, float, float],
             scale: float) -> None:
    """Lies curled and nearly still; the flanks move with slow breathing (1 to 1.8 breaths a second); now and then a
    small head movement. Paws are tucked in and often hidden."""
    n = len(k.cx)
    t = np.arange(n) / fps
    breath = np.sin(2 * np.pi * rng.uniform(1.0, 1.8) * t + rng.uniform(0, 2 * np.pi))
    k.width[:] = 1.0 + rng.uniform(0.04, 0.08) * breath
    k.front[:] = 0.92 + 0.01 * breath
    curl = rng.choice([-1.0, 1.0]) * rng.uniform(0.004, 0.01)
    k.bend[:] = curl
    k.tail[:, 0] = np.sign(curl) * rng.uniform(0.4, 0.9)
    k.tail[:, 1] = np.sign(curl) * rng.uniform(0.5, 1.0)
    twitches = _segments(rng, n, fps, lambda r, i: (r.normal(0.0, 0.25) if i % 2 else 0.0,
                                                   r.uniform(0.3, 0.8) if i % 2 else r.uniform(3.0, 8.0)))
    k.head_yaw[:] = np.sign(curl) * 0.2 + _smooth(twitches, fps, 0.3) + _ou(rng, n, fps, 0.02, 2.0)
    k.head_pitch[:] = 0.9
    for paw, sgn in ((0, -1.0), (1, 1.0), (2, -1.0), (3, 1.0)):
        k.paws[:, paw, 1] = -sgn * 5.0  # tucked towards the midline
    k.paws[:, 2:, 0] = 6.0
    _drift(k, rng, fps, box, 0.3 * scale, 0.01)
    k.occlusion[[LFORE, RFORE]] = 3.0
    k.occlusion[[LHIND, RHIND]] = 4.0


def _turning(k: Kinematics, rng: np.random.Generator, fps: float, box: tuple[float, float, float, float],
             scale: float) -> None:
    """Turns on the spot at 80 to 200 degrees a second, around a pivot near the hindquarters, the body bent into a C
    towards the turn and the head leading; it changes direction every 1.5 to 4 s; small stepping paws."""
    n = len(k.cx)
    top = rng.uniform(1.4, 3.5)
    direction = rng.choice([-1.0, 1.0])

    def draw(r: np.random.Generator, i: int) -> tuple[float, float]:
        sign = direction if i % 2 == 0 else -direction
        if r.random() < 0.25:  # sometimes keeps turning the same way
            sign = direction
        return sign * top * r.uniform(0.7, 1.0), r.uniform(1.5, 4.0)

    omega = _smooth(_segments(rng, n, fps, draw), fps, 0.35)  # radians / second
    k.heading[:] = k.heading[0] + np.cumsum(omega) / fps
    relative = omega / 3.5
    k.bend[:] = 0.014 * relative + _ou(rng, n, fps, 0.001, 1.0)
    k.head_yaw[:] = 0.35 * relative + _ou(rng, n, fps, 0.05, 0.5)
    k.tail[:, 0] = -0.5 * _smooth(relative, fps, 0.5)
    k.tail[:, 1] = -0.6 * _smooth(relative, fps, 0.8)
    k.front[:] = 0.95
    phase = 2 * np.pi * np.cumsum(rng.uniform(2.5, 4.0) * np.abs(relative) + 0.2) / fps
    for paw, offset, sgn in ((0, 0.0, -1.0), (1, np.pi, 1.0), (2, np.pi, -1.0), (3, 0.0, 1.0)):
        k.paws[:, paw, 1] = 3.0 * np.abs(relative) * np.sin(phase + offset)
        k.paws[:, paw, 0] = (4.0 if paw < 2 else 2.0) * np.abs(relative) * np.cos(phase + offset)
    # keep a point near the hindquarters fixed: the spine swings around it
    pivot_u = rng.uniform(-25.0, -5.0) * scale
    px = k.cx[0] + pivot_u * np.cos(k.heading[0])
    py = k.cy[0] + pivot_u * np.sin(k.heading[0])
    k.cx[:] = px - pivot_u * np.cos(k.heading)
    k.cy[:] = py - pivot_u * np.sin(k.heading)
    _drift(k, rng, fps, box, 2.0 * scale, 0.0)
    k.occlusion[[LHIND, RHIND]] = 1.5


def _seizure(k: Kinematics, rng: np.random.Generator, fps: float, box: tuple[float, float, float, float],
             scale: float) -> None:
    """Abnormal: whole-body tremor at 8 to 12 Hz (2 to 4 px), forelimb clonus at 3 to 5 Hz, sudden myoclonic jerks of
    the body and head (about one a second, decaying in 0.1 s), and a stiff, raised (Straub) tail."""
    n = len(k.cx)
    t = np.arange(n) / fps
    freq = rng.uniform(8.0, 12.0)
    phase = 2 * np.pi * freq * t + np.cumsum(rng.normal(0.0, 0.15, n)) + rng.uniform(0, 2 * np.pi)
    amplitude = rng.uniform(2.0, 4.0) * scale * np.clip(1.0 + 0.3 * _ou(rng, n, fps, 1.0, 1.0), 0.4, 1.6)
    direction = rng.normal(0.0, 1.0, 2)
    direction /= np.linalg.norm(direction)
    per_point = rng.normal(0.0, 0.35, (len(BODYPARTS), 2)) + direction  # mostly coherent shaking
    k.jitter[:] = (amplitude * np.sin(phase))[:, None, None] * per_point[None]
    k.jitter += rng.normal(0.0, 0.6 * scale, k.jitter.shape)  # irregular component
    onsets = rng.random(n) < rng.uniform(0.7, 1.5) / fps
    kernel = np.exp(-np.arange(int(fps * 0.6)) / (0.1 * fps))
    jerk_bend = np.convolve(onsets * rng.normal(0.0, 0.012, n), kernel)[:n]
    jerk_head = np.convolve(onsets * rng.normal(0.0, 0.5, n), kernel)[:n]
    jerk_turn = np.convolve(onsets * rng.normal(0.0, 0.25, n), kernel)[:n]
    k.bend[:] = jerk_bend + _ou(rng, n, fps, 0.002, 1.0)
    k.head_yaw[:] = jerk_head + _ou(rng, n, fps, 0.08, 0.5)
    k.heading[:] = k.heading[0] + np.cumsum(jerk_turn) / fps * 3.0
    clonus = np.sin(2 * np.pi * rng.uniform(3.0, 5.0) * t + rng.uniform(0, 2 * np.pi))
    reach = rng.uniform(3.0, 6.0)
    k.paws[:, 0, 0] = reach * clonus + 4.0
    k.paws[:, 1, 0] = reach * np.roll(clonus, int(rng.integers(0, 3))) + 4.0
    k.paws[:, 2:, 1] = np.array([-4.0, 4.0])  # hind legs splayed for balance
    k.front[:] = rng.uniform(0.85, 0.95) + 0.04 * np.abs(np.sin(phase / 3))
    k.head_pitch[:] = 0.9
    k.tail_length[:] = rng.uniform(0.6, 0.75)
    k.tail[:, 0] = _ou(rng, n, fps, 0.05, 1.0)
    k.tail[:, 1] = 0.3 * k.tail[:, 0]
    _drift(k, rng, fps, box, 2.0 * scale, 0.05)
    k.occlusion[:] = 2.0


SIMULATORS: dict[str, Callable[..., None]] = {
    'walking': _walking, 'rearing': _rearing, 'grooming': _grooming, 'resting': _resting, 'turning': _turning,
    ABNORMAL_BEHAVIOUR: _seizure,
}


def _drift(k: Kinematics, rng: np.random.Generator, fps: float, box: tuple[float, float, float, float],
           pixels: float, radians: float) -> None:
    """Slow wander of position (std ``pixels``) and heading (std ``radians``), kept inside ``box``."""
    n = len(k.cx)
    k.cx += _ou(rng, n, fps, pixels, 3.0)
    k.cy += _ou(rng, n, fps, pixels, 3.0)
    k.heading += _ou(rng, n, fps, radians, 3.0)
    np.clip(k.cx, box[0], box[2], out=k.cx)
    np.clip(k.cy, box[1], box[3], out=k.cy)


# ---------------------------------------------------------------- body model

def pose_from_kinematics(k: Kinematics, animal: Animal) -> np.ndarray:
    """Image coordinates (T, V, 2) of every bodypart for the per-frame parameters ``k`` of one animal."""
    n = len(k.cx)
    p = np.broadcast_to(animal.pose, (n, len(BODYPARTS), 2)).copy()  # (T, V, 2) animal frame (u, w)
    p[:, :, 1] *= k.width[:, None]
    front = p[:, FRONT]
    front[:, :, 0] *= k.front[:, None]
    front[:, :, 1] *= k.front_width[:, None]
    p[:, FRONT] = front
    upper = FRONT + [SPINE]  # rearing: everything in front of the hips is seen foreshortened from above
    hips = animal.pose[LHIND, 0]
    p[:, upper, 0] = hips + (p[:, upper, 0] - hips) * (1.0 - k.lift[:, None])
    # head: pitch foreshortens it along its axis, yaw turns it about the neck
    head = p[:, HEAD] - p[:, [NECK]]  # (T, 3, 2)
    head[:, :, 0] *= k.head_pitch[:, None]
    c, s = np.cos(k.head_yaw)[:, None], np.sin(k.head_yaw)[:, None]
    p[:, HEAD] = p[:, [NECK]] + np.stack([c * head[:, :, 0] - s * head[:, :, 1],
                                          s * head[:, :, 0] + c * head[:, :, 1]], axis=-1)
    p[:, PAWS] += k.paws
    # bend the body (all points up to the tail base) along an arc of curvature k.bend: arc length u, offset w
    body = p[:, :TMID]
    u, w = body[:, :, 0], body[:, :, 1]
    a = k.bend[:, None] * u  # tangent angle at arc length u
    along = u * np.sinc(a / np.pi)  # sin(a) / bend
    across = u * (a / 2) * np.sinc(a / (2 * np.pi)) ** 2  # (1 - cos(a)) / bend
    p[:, :TMID, 0] = along - w * np.sin(a)
    p[:, :TMID, 1] = across + w * np.cos(a)
    # tail: two segments continuing the body's arc backwards from the tail base, plus their own bends
    base_u = animal.pose[TBASE, 0]
    first, second = (length * k.tail_length for length in _TAIL_SEGMENTS)
    angle1 = np.pi + k.bend * (base_u - first / 2) + k.tail[:, 0]
    angle2 = angle1 - k.bend * (first + second) / 2 + k.tail[:, 1]
    p[:, TMID] = p[:, TBASE] + first[:, None] * np.stack([np.cos(angle1), np.sin(angle1)], axis=-1)
    p[:, TTIP] = p[:, TMID] + second[:, None] * np.stack([np.cos(angle2), np.sin(angle2)], axis=-1)
    # into the image: scale, rotate by the heading, move to the position (x right, y down)
    p *= animal.scale
    c, s = np.cos(k.heading)[:, None], np.sin(k.heading)[:, None]
    x = k.cx[:, None] + c * p[:, :, 0] - s * p[:, :, 1]
    y = k.cy[:, None] + s * p[:, :, 0] + c * p[:, :, 1]
    return np.stack([x, y], axis=-1) + k.jitter  # (T, V, 2)


def make_animal(rng: np.random.Generator, frame_size: float) -> Animal:
    """A simulated animal: body size within +-15 % of the reference, small individual pose deviations."""
    scale = frame_size / _REFERENCE_HEIGHT * rng.uniform(0.85, 1.15)
    pose = _REST_POSE + rng.normal(0.0, 1.2, _REST_POSE.shape)
    pose[SPINE] = 0.0
    pose[[NECK, TBASE], 1] = 0.0  # points on the spine axis stay on it
    pose[[TMID, TTIP]] = _REST_POSE[[TMID, TTIP]]
    return Animal(scale=float(scale), pose=pose)


def detect(true_xy: np.ndarray, k: Kinematics, rng: np.random.Generator, fps: float, width: int,
           height: int, scale: float) -> np.ndarray:
    """What a DeepLabCut network reports for the true positions (T, V, 2): (T, V, 3) x, y, likelihood.

    Detection noise of about 1 to 2 px (temporally correlated), likelihoods mostly 0.9 to 1.0, short dips, and
    occlusion stretches (likelihood below 0.6; the coordinate jumps around or snaps onto another bodypart). A point
    outside the image is reported at the image border with a low likelihood.
    """
    n, v = true_xy.shape[:2]
    sigma = rng.uniform(0.8, 1.4) * max(scale, 0.5) * _NOISE_SCALE  # (V,)
    rho = 0.6
    white = rng.normal(0.0, 1.0, (n, v, 2))
    noise = np.empty_like(white)
    noise[0] = white[0]
    for i in range(1, n):
        noise[i] = rho * noise[i - 1] + np.sqrt(1 - rho * rho) * white[i]
    xy = true_xy + noise * sigma[None, :, None]
    likelihood = 1.0 - 10.0 ** rng.normal(_CONFIDENCE[None, :], 0.45, (n, v))
    likelihood = np.clip(likelihood, 0.6, 0.99999)  # confident points never fall under the cutoff by chance
    # short dips: likelihood 0.6 to 0.9, a less precise coordinate
    dips = rng.random((n, v)) < 0.25 / fps
    for i, j in zip(*np.nonzero(dips)):
        stop = min(n, i + int(rng.integers(1, 4)))
        likelihood[i:stop, j] = rng.uniform(0.6, 0.9, stop - i)
        xy[i:stop, j] += rng.normal(0.0, 3.0 * max(scale, 0.5), (stop - i, 2))
    # occlusions
    rate = _OCCLUSION_RATE * k.occlusion / fps
    onsets = rng.random((n, v)) < rate[None, :]
    occluded = np.zeros((n, v), dtype=bool)
    for i, j in zip(*np.nonzero(onsets)):
        stop = min(n, i + int(rng.integers(3, int(fps * 1.2) + 4)))
        occluded[i:stop, j] = True
        likelihood[i:stop, j] = 10.0 ** rng.uniform(-3.0, np.log10(0.55), stop - i)
        mode = rng.random()
        if mode < 0.45:  # snaps onto a neighbouring bodypart
            other = int(rng.choice([b for e in SKELETON for b in e if j in e and b != j]))
            xy[i:stop, j] = true_xy[i:stop, other] + rng.normal(0.0, 3.0, (stop - i, 2))
        elif mode < 0.9:  # jumps around its true place
            xy[i:stop, j] = true_xy[i:stop, j] + rng.normal(0.0, 20.0 * max(scale, 0.5), (stop - i, 2))
        else:  # lands somewhere else in the image
            xy[i:stop, j] = rng.uniform((0, 0), (width - 1, height - 1), (stop - i, 2))
    outside = ((true_xy[..., 0] < 0) | (true_xy[..., 0] > width - 1)
               | (true_xy[..., 1] < 0) | (true_xy[..., 1] > height - 1))
    likelihood[outside] = np.minimum(likelihood[outside], rng.uniform(0.001, 0.3, int(outside.sum())))
    xy[..., 0] = np.clip(xy[..., 0], 0, width - 1)
    xy[..., 1] = np.clip(xy[..., 1], 0, height - 1)
    return np.concatenate([xy, likelihood[..., None]], axis=-1)


def simulate_recording(behaviour: str, animal: Animal, rng: np.random.Generator, n_frames: int = 600,
                       fps: float = 30.0, width: int = 640, height: int = 480) -> np.ndarray:
    """One recording of ``behaviour``: (T, V, 3) float32 array of x, y (pixels) and likelihood per bodypart."""
    if behaviour not in SIMULATORS:
        raise ValueError(f'unknown behaviour {behaviour!r} (allowed: {", ".join(SIMULATORS)})')
    margin = _BODY_RADIUS * animal.scale + 8.0
    box = (margin, margin, width - 1 - margin, height - 1 - margin)
    cx = rng.uniform(box[0], box[2])
    cy = rng.uniform(box[1], box[3])
    k = Kinematics.still(n_frames, cx, cy, rng.uniform(-np.pi, np.pi))
    SIMULATORS[behaviour](k, rng, fps, box, animal.scale)
    true_xy = pose_from_kinematics(k, animal)
    return detect(true_xy, k, rng, fps, width, height, animal.scale).astype(np.float32)


# ---------------------------------------------------------------- writing

def _cell(value: float) -> str:
    """A CSV cell: the float at full precision, empty for NaN (a point DeepLabCut did not find)."""
    return repr(value) if value == value else ''


def dlc_csv_text(data: np.ndarray, scorer: str = SCORER, bodyparts: Sequence[str] = BODYPARTS,
                 individuals: Sequence[str] | None = None) -> str:
    """A (T, V, 3) x/y/likelihood array as the text of a single-animal DeepLabCut analysis CSV; with
    ``individuals``, a (T, I, V, 3) array as a multi-animal (maDLC) one, with the ``individuals`` header row.
    NaN is written as an empty cell."""
    if individuals is not None:
        if data.ndim != 4 or data.shape[1] != len(individuals):
            raise ValueError(f'data of shape {data.shape} does not hold {len(individuals)} individuals (T, I, V, 3)')
        names = [name for name in individuals for _ in range(3 * data.shape[2])]
        data = data.reshape(len(data), -1, 3)  # (T, I*V, 3)
        bodyparts = list(bodyparts) * len(individuals)
    n, v, _ = data.shape
    if v != len(bodyparts):
        raise ValueError(f'data has {v} bodyparts but {len(bodyparts)} names were given')
    lines = ['scorer,' + ','.join([scorer] * (3 * v)),
             'bodyparts,' + ','.join(name for name in bodyparts for _ in range(3)),
             'coords,' + ','.join(['x', 'y', 'likelihood'] * v)]
    if individuals is not None:
        lines.insert(1, 'individuals,' + ','.join(names))
    rows = data.reshape(n, 3 * v).astype(np.float64).tolist()  # float32 values, written at full precision
    lines.extend(f'{i},' + ','.join(map(_cell, row)) for i, row in enumerate(rows))
    return '\n'.join(lines) + '\n'


def dlc_config_text(recordings: Sequence[str], width: int, height: int, task: str = TASK,
                    individuals: Sequence[str] | None = None) -> str:
    """A DeepLabCut project ``config.yaml`` for the sample: the keys a DLC 2.x single-animal project has, or with
    ``individuals`` those of a multi-animal project (``multianimalbodyparts``, ``bodyparts: MULTI!``)."""
    project = f'/path/to/{task}-{EXPERIMENTER}-2024-11-26'
    videos = ''.join(f'  {project}/videos/{name}.mp4:\n    crop: 0, {width}, 0, {height}\n' for name in recordings)
    bodyparts = ''.join(f'- {name}\n' for name in BODYPARTS)
    skeleton = ''.join(f'- - {BODYPARTS[a]}\n  - {BODYPARTS[b]}\n' for a, b in SKELETON)
    if individuals is None:
        project_kind = 'multianimalproject: false\nidentity:\n'
        parts = f'bodyparts:\n{bodyparts}'
        training = 'default_net_type: resnet_50\ndefault_augmenter: default\n'
    else:
        project_kind = 'multianimalproject: true\nidentity: false\n'
        animals = ''.join(f'- {name}\n' for name in individuals)
        parts = f'individuals:\n{animals}uniquebodyparts: []\nmultianimalbodyparts:\n{bodyparts}bodyparts: MULTI!\n'
        training = ('default_net_type: dlcrnet_ms5\ndefault_augmenter: multi-animal-imgaug\n'
                    'default_track_method: ellipse\n')
    return (
        '    # Project definitions (do not edit)\n'
        f'Task: {task}\nscorer: {EXPERIMENTER}\ndate: {DATE}\n{project_kind}\n'
        '    # Project path (change when moving around)\n'
        f'project_path: {project}\n\n'
        '    # Annotation data set configuration (and individual video cropping parameters)\n'
        f'video_sets:\n{videos}{parts}\n'
        '    # Fraction of video to start/stop when extracting frames for labeling/refinement\n'
        'start: 0\nstop: 1\nnumframes2pick: 20\n\n'
        '    # Plotting configuration\n'
        f'skeleton:\n{skeleton}skeleton_color: black\npcutoff: {PCUTOFF}\ndotsize: 8\nalphavalue: 0.7\n'
        'colormap: rainbow\n\n'
        '    # Training,Evaluation and Analysis configuration\n'
        f'TrainingFraction:\n- 0.95\niteration: 0\n{training}'
        'snapshotindex: -1\nbatch_size: 8\n\n'
        '    # Cropping Parameters (for analysis and outlier frame detection)\n'
        f'cropping: false\n#if cropping is true for analysis, then set the values here:\n'
        f'x1: 0\nx2: {width}\ny1: 0\ny2: {height}\n\n'
        '    # Refinement configuration (parameters from annotation dataset configuration also relevant in this stage)\n'
        'corner2move2:\n- 50\n- 50\nmove2corner: true\n'
    )


def _write_text(path: str, text: str) -> None:
    with atomic_write(path, 'wb') as handle:
        handle.write(text.encode('utf-8'))


def make_sample(out_dir: str, seed: int = 0, recordings: int = 6, abnormal: int = 4, frames: int = 600,
                fps: float = 30.0, width: int = 640, height: int = 480) -> dict[str, list[str]]:
    """Write the sample project into ``out_dir``; return the paths written.

    Returns ``{'config': [config.yaml], 'csv': [every csv_data/<behaviour>/*.csv], 'abnormal': [abnormal/*.csv]}``.
    The same arguments give byte-identical files. Recording ``ratNN_<behaviour>`` is animal NN of a cohort of
    ``max(recordings, abnormal)`` animals (the same animals do every behaviour), placed and oriented at random.
    Older sample CSVs (this generator's scorer name) left in these folders by a bigger run are removed.
    """
    for name, value, low in (('recordings', recordings, 1), ('abnormal', abnormal, 0), ('frames', frames, 1),
                             ('width', width, 64), ('height', height, 64)):
        if int(value) != value or value < low:
            raise ValueError(f'{name} must be an integer >= {low}, got {value!r}')
    if not fps > 0:
        raise ValueError(f'fps must be > 0, got {fps!r}')
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NotADirectoryError(f'{out_dir}: output exists and is not a folder')
    cohort = [make_animal(np.random.default_rng([seed, 1000, i]), min(width, height))
              for i in range(max(recordings, abnormal))]
    written: dict[str, list[str]] = {'config': [], 'csv': [], 'abnormal': []}
    jobs = [(b, c, i) for c, b in enumerate(BEHAVIOURS) for i in range(recordings)]
    jobs += [(ABNORMAL_BEHAVIOUR, len(BEHAVIOURS), i) for i in range(abnormal)]
    names = []
    for behaviour, code, i in jobs:
        name = f'rat{i + 1:02d}_{behaviour}'
        names.append(name)
        rng = np.random.default_rng([seed, code, i])
        data = simulate_recording(behaviour, cohort[i], rng, frames, fps, width, height)
        folder = (os.path.join(out_dir, 'abnormal') if behaviour == ABNORMAL_BEHAVIOUR
                  else os.path.join(out_dir, 'csv_data', behaviour))
        path = os.path.join(folder, f'{name}{SCORER}.csv')
        _write_text(path, dlc_csv_text(data))
        written['abnormal' if behaviour == ABNORMAL_BEHAVIOUR else 'csv'].append(path)
    config = os.path.join(out_dir, 'config.yaml')
    _write_text(config, dlc_config_text(names, width, height))
    written['config'].append(config)
    _remove_stale(out_dir, set(written['csv']) | set(written['abnormal']))
    return written


def _remove_stale(out_dir: str, keep: set[str]) -> None:
    """Remove sample CSVs of an earlier, bigger run (only files named with this generator's scorer)."""
    folders = [os.path.join(out_dir, 'csv_data', b) for b in BEHAVIOURS] + [os.path.join(out_dir, 'abnormal')]
    for folder in folders:
        for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            path = os.path.join(folder, entry)
            if entry.endswith(f'{SCORER}.csv') and path not in keep and os.path.isfile(path):
                logger.warning('removing %s, left by an earlier sample run', path)
                os.remove(path)


# ---------------------------------------------------------------- command line

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write a deterministic DeepLabCut-style sample project (12-bodypart rat, five behaviours in '
                    'csv_data/<behaviour>/, seizure-like recordings in abnormal/, config.yaml) for the quick start.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--out', default='data/sample', help='output folder (created if needed)')
    parser.add_argument('--seed', type=int, default=0, help='random seed; the same seed gives identical files')
    parser.add_argument('--recordings', type=int, default=6, help='recordings per behaviour (one animal each)')
    parser.add_argument('--abnormal', type=int, default=4, help='abnormal (seizure-like) recordings; 0 for none')
    parser.add_argument('--frames', type=int, default=600, help='frames per recording')
    parser.add_argument('--fps', type=float, default=30.0, help='frame rate, frames per second')
    parser.add_argument('--width', type=int, default=640, help='frame width, pixels')
    parser.add_argument('--height', type=int, default=480, help='frame height, pixels')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    start = time.perf_counter()
    written = make_sample(args.out, seed=args.seed, recordings=args.recordings, abnormal=args.abnormal,
                          frames=args.frames, fps=args.fps, width=args.width, height=args.height)
    files = written['csv'] + written['abnormal'] + written['config']
    size = sum(os.path.getsize(path) for path in files)
    logger.info('wrote %d recordings of %s (%d each) to %s, %d abnormal (%s) recordings to %s, and %s',
                len(written['csv']), ', '.join(BEHAVIOURS), args.recordings, os.path.join(args.out, 'csv_data'),
                len(written['abnormal']), ABNORMAL_BEHAVIOUR, os.path.join(args.out, 'abnormal'),
                written['config'][0])
    logger.info('%d frames at %g fps, %dx%d px; %.1f MB in %.1f s', args.frames, args.fps, args.width, args.height,
                size / 1e6, time.perf_counter() - start)
    return 0


if __name__ == '__main__':
    run_cli(main)
