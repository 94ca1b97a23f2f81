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

With ``--social`` (:func:`make_social_sample`) it writes instead a multi-animal DeepLabCut (maDLC) project of two
rats, filmed from higher up (each animal three quarters the single-animal sample's size: nose to tail base about
60 px in a 480-px-high frame)::

    <out>/config.yaml                                           maDLC config: multianimalproject true, individuals
                                                                rat1 and rat2, multianimalbodyparts, bodyparts MULTI!
    <out>/csv_data/<behaviour>/pairNN_<behaviour><SOCIAL_SCORER>_el.csv    tracked maDLC output, one pair each

Each CSV has maDLC's four header rows (scorer, individuals, bodyparts, coords), the same twelve bodyparts for rat1
and rat2, and empty cells where maDLC would have found nothing: points with a likelihood under 0.01 and, in
fighting, a whole animal for 2 to 8 frames now and then. Recording ``pairNN_<behaviour>`` is pair NN of a cohort
(the same pairs do every behaviour); the class is the folder name, as in the single-animal sample. Each animal's
posture and gait come from the body model above; the behaviour sets the pair's trajectories, placed anywhere in
the arena at any heading:

    approach   the actor walks up to the partner, which walks its own way (it does not walk away from the actor and
               steps aside at contact); at contact (0.9 to 1.2 body lengths, spine to spine) the actor veers off, 90
               to 140 degrees from the direction to the partner, for 0.6 to 1.2 s and until 2 body lengths away,
               then comes back
    follow     the actor walks the partner's trail half a body length ahead of itself, keeping 1.3 to 2.2 body
               lengths behind the partner by walking faster or slower; the partner walks its own way
    sniffing   the partner stands and shifts a little; the actor's nose is at the partner's anogenital region (from
               behind) or at a flank (from the side), changing every 1.5 to 4 s, its head scanning in small sweeps
    fighting   face to face at 0.5 to 1 body lengths, the two circle each other at 2 to 6 radians a second, changing
               direction every 0.3 to 1 s, while the pair lunges about; bouts of upright boxing and of rolling
               (narrower, bent bodies from above), scrabbling paws, lashing tails, three times the occlusions
    apart      each walks its own way; closer than 4 to 5 body lengths, both turn away from the other (along the
               wall when one is in the way), so they stay about 3 body lengths apart or more

Whose perspective: labels belong to the pair. Approach, follow and sniffing are directed (the *actor* approaches,
follows or sniffs the other); a recording is ``approach`` whichever animal approaches. The actor is rat1 or rat2 at
random per recording, so the individual order carries no meaning, as in real maDLC output, and nothing in the files
says which one it is. In approach, follow and apart both animals walk with the walking model's pace, stride and gait,
and those that walk their own way turn of their own accord now and then (1.5 to 2.5 radians a second for 0.4 to
0.9 s, every 3 to 4 s), so an animal on its own moves much alike in the three; they differ in where the partner is
and where it heads relative to an animal: ahead and closing in, crossing (approach); ahead, heading the same way, at
a steady distance (follow); far, anywhere (apart). Aligning each animal on its own body (``egocentric_clip``)
removes exactly that; aligning both on one of them (``egocentric_focal``) or on the pair (``egocentric_pair``)
keeps it.
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

from torchlight import HelpFormatter, atomic_write, run_cli  # noqa: E402

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
SOCIAL_BEHAVIOURS: tuple[str, ...] = ('approach', 'follow', 'sniffing', 'fighting', 'apart')
SOCIAL_TASK = 'ratsocial'
SOCIAL_SCORER = f'DLC_dlcrnetms5_{SOCIAL_TASK}{DATE}shuffle1_200000'
SOCIAL_SUFFIX = '_el'  # maDLC's tracked output (ellipse tracker) ends so
INDIVIDUALS: tuple[str, ...] = ('rat1', 'rat2')
_SOCIAL_SIZE = 0.75  # social animals' size relative to the single-animal sample's

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


# ---------------------------------------------------------------- two animals: the social sample

def _wrap(angle: float | np.ndarray) -> float | np.ndarray:
    """An angle in radians wrapped into [-pi, pi)."""
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _place(rng: np.random.Generator, box: tuple[float, float, float, float], near: np.ndarray | None = None,
           distance: tuple[float, float] = (0.0, 0.0), tries: int = 1000) -> np.ndarray:
    """A random point (2,) in ``box``; with ``near``, at a distance in ``distance`` (pixels) from it."""
    x0, y0, x1, y1 = box
    for _ in range(tries):
        if near is None:
            return rng.uniform((x0, y0), (x1, y1))
        angle = rng.uniform(-np.pi, np.pi)
        point = near + rng.uniform(*distance) * np.array([np.cos(angle), np.sin(angle)])
        if x0 <= point[0] <= x1 and y0 <= point[1] <= y1:
            return point
    raise ValueError(f'no place {distance[0]:.0f} to {distance[1]:.0f} px from {near} inside the arena {box}; '
                     'use a bigger frame')


def _ou_stack(rng: np.random.Generator, shape: tuple[int, ...], n: int, fps: float, sigma: float,
              tau: float) -> np.ndarray:
    """(n, *shape) independent Ornstein-Uhlenbeck signals (see ``_ou``)."""
    return np.stack([_ou(rng, n, fps, sigma, tau) for _ in range(int(np.prod(shape)))], axis=1).reshape(n, *shape)


def _shrink(box: tuple[float, float, float, float], pixels: float) -> tuple[float, float, float, float]:
    """``box`` made smaller by ``pixels`` on each side (never smaller than its centre point)."""
    x0, y0, x1, y1 = box
    dx, dy = min(pixels, (x1 - x0) / 2), min(pixels, (y1 - y0) / 2)
    return x0 + dx, y0 + dy, x1 - dx, y1 - dy


_Steer = Callable[[int, np.ndarray, np.ndarray, np.ndarray], tuple[tuple[float, float], tuple[float, float]]]


def _walk_pair(rng: np.random.Generator, n: int, fps: float, box: tuple[float, float, float, float],
               scales: Sequence[float], start: np.ndarray, steer: _Steer, min_gap: float,
               own_turns: tuple[bool, bool] = (True, True)) -> list[Kinematics]:
    """Two walkers stepped together inside ``box``, each at its own pace (``_walker``), and where ``own_turns``
    says so, turning now and then of its own accord.

    ``start``: (2, 3) x, y, heading of each. ``steer(i, position (2, 2), heading (2,), pace (2,))`` returns each
    animal's extra turn rate (radians / second, at most 2 is used) and the factor on its own pace (pixels / second)
    at frame i: the behaviour's rule. A wall ahead (as in walking) overrides both the rule and the animal's own
    turns. The two spine points are kept at least ``min_gap`` pixels apart. Returns the two animals' kinematics with
    their positions, headings and stride gait.
    """
    paces = [_walker(rng, n, fps, scale) for scale in scales]
    # now and then each turns of its own accord: 1.5 to 2.5 radians a second for 0.4 to 0.9 s, every 3 to 4 s
    bouts = [_segments(rng, n, fps, lambda r, i: (r.choice([-1.0, 1.0]) * r.uniform(1.5, 2.5), r.uniform(0.4, 0.9))
                       if i % 2 else (0.0, r.exponential(3.0))) * own for own in own_turns]
    position, heading = start[:, :2].astype(float), start[:, 2].astype(float)
    track = np.empty((n, 2, 3))  # x, y, heading per frame and animal
    speed = np.empty((n, 2))
    turn = np.empty((n, 2))
    for i in range(n):
        extra, factor = steer(i, position, heading, np.array([pace[1][i] for pace in paces]))
        for j, (pace, pace_t, _, curvature) in enumerate(paces):
            v = pace_t[i] * factor[j]
            wall = _wall_turn(position[j, 0], position[j, 1], heading[j], 1.2 * pace, box)
            turning = wall or bouts[j][i] + float(np.clip(extra[j], -2.0, 2.0))
            omega = float(np.clip(curvature[i] * v + turning, -3.0, 3.0))
            track[i, j] = position[j, 0], position[j, 1], heading[j]
            speed[i, j], turn[i, j] = v, omega
            heading[j] += omega / fps
            position[j] += np.array([np.cos(heading[j]), np.sin(heading[j])]) * v / fps
        offset = position[1] - position[0]
        overlap = min_gap - float(np.hypot(*offset))
        if overlap > 0:  # bodies do not pass through each other: both pushed apart along the line between them
            push = offset / max(float(np.hypot(*offset)), 1e-6) * overlap / 2
            position += np.stack([-push, push])
        np.clip(position, box[:2], box[2:], out=position)
    animals = []
    for j, (_, _, stride, _) in enumerate(paces):
        k = Kinematics.still(n, 0.0, 0.0, 0.0)
        k.cx[:], k.cy[:], k.heading[:] = track[:, j, 0], track[:, j, 1], track[:, j, 2]
        _stride_gait(k, rng, fps, speed[:, j], turn[:, j], stride, scales[j])
        np.clip(k.bend, -0.03, 0.03, out=k.bend)  # slow steps in a tight turn would fold the body
        animals.append(k)
    return animals


def _approach(rng: np.random.Generator, n: int, fps: float, box: tuple[float, float, float, float],
              scales: Sequence[float]) -> list[Kinematics]:
    """The actor (first) walks up to the partner, who walks its own way (not away from the actor, and stepping aside
    at contact); at contact the actor veers off, 90 to 140 degrees from the partner's direction, for at least 0.6 to
    1.2 s and until 2 body lengths away, then comes back."""
    length = 80.0 * float(np.mean(scales))  # nose to tail base, pixels
    inner = _shrink(box, 1.5 * length)
    partner = _place(rng, inner)
    actor = _place(rng, box, partner, (3.0 * length, 4.5 * length))
    to_partner = float(np.arctan2(*(partner - actor)[::-1]))
    start = np.array([[*actor, to_partner + rng.uniform(-0.6, 0.6)], [*partner, rng.uniform(-np.pi, np.pi)]])
    contact = rng.uniform(0.9, 1.2) * length  # spine to spine
    state = {'away': False, 'until': 0, 'veer': 0.0}  # veer: the actor's heading off the bearing when away

    def steer(i: int, position: np.ndarray, heading: np.ndarray, pace: np.ndarray):
        offset = position[1] - position[0]
        distance = float(np.hypot(*offset))
        bearing = float(np.arctan2(offset[1], offset[0]))  # from the actor to the partner
        if not state['away'] and distance < contact:  # veers off: to open ground, against the partner's way
            veers = [rng.uniform(1.6, 2.4), -rng.uniform(1.6, 2.4)]
            ahead = [position[0] + 1.5 * length * np.array([np.cos(bearing + v), np.sin(bearing + v)]) for v in veers]
            blocked = [not (box[0] < p[0] < box[2] and box[1] < p[1] < box[3]) for p in ahead]
            veer = min(veers, key=lambda v: (blocked[veers.index(v)], np.cos(bearing + v - heading[1])))
            state.update(away=True, until=i + int(rng.uniform(0.6, 1.2) * fps), veer=veer)
        elif state['away'] and i >= state['until'] and distance > 2.0 * length:
            state['away'] = False
        actor_turn = 3.0 * _wrap(bearing + (state['veer'] if state['away'] else 0.0) - heading[0])
        fleeing = _wrap(heading[1] - bearing)  # 0: the partner walks straight away from the actor
        if distance < contact:  # steps aside
            partner_turn = 2.0 * _wrap(bearing + np.pi / 2 * np.sign(fleeing or 1.0) - heading[1])
        elif abs(fleeing) < np.pi / 3:  # turns to walk across the actor's path instead
            partner_turn = 1.0 * float(np.sign(fleeing) or 1.0)
        else:
            partner_turn = 0.0
        return (actor_turn, partner_turn), (1.0, 1.0)

    return _walk_pair(rng, n, fps, box, scales, start, steer, 0.7 * length, own_turns=(False, True))


def _follow(rng: np.random.Generator, n: int, fps: float, box: tuple[float, float, float, float],
            scales: Sequence[float]) -> list[Kinematics]:
    """The actor (first) follows the partner, who walks its own way: it walks the partner's trail, keeping 1.3 to 2.2
    body lengths behind it by walking faster or slower."""
    length = 80.0 * float(np.mean(scales))
    inner = _shrink(box, 1.5 * length)
    gap = rng.uniform(1.3, 2.2) * length
    leader = _place(rng, inner)
    behind = _place(rng, box, leader, (gap, gap))
    direction = float(np.arctan2(*(leader - behind)[::-1]))
    start = np.array([[*behind, direction + rng.uniform(-0.3, 0.3)], [*leader, direction]])
    trail = [behind + (leader - behind) * f for f in np.linspace(0.0, 1.0, 30)]  # the leader's path so far

    def steer(i: int, position: np.ndarray, heading: np.ndarray, pace: np.ndarray):
        trail.append(position[1].copy())
        del trail[:-150]  # the last 5 s are enough
        away = np.hypot(*(np.array(trail) - position[0]).T)  # (K,) distance to each point of the trail
        nearest = int(np.argmin(away))
        further = np.flatnonzero(away[nearest:] > 0.5 * length)  # aim half a body length along the trail
        offset = trail[nearest + int(further[0]) if len(further) else -1] - position[0]
        catch_up = float(np.clip(1.0 + 1.2 * (np.hypot(*(position[1] - position[0])) - gap) / gap, 0.3, 1.8))
        turn = 3.0 * _wrap(float(np.arctan2(offset[1], offset[0])) - heading[0])
        return (turn, 0.0), (catch_up * pace[1] / pace[0], 1.0)  # at the leader's pace, faster when behind

    return _walk_pair(rng, n, fps, box, scales, start, steer, 0.7 * length, own_turns=(False, True))


def _apart(rng: np.random.Generator, n: int, fps: float, box: tuple[float, float, float, float],
           scales: Sequence[float]) -> list[Kinematics]:
    """Each walks its own way; when they come closer than 4 to 5 body lengths both turn away from the other (along
    the wall when a wall is in the way)."""
    length = 80.0 * float(np.mean(scales))
    far = rng.uniform(4.0, 5.0) * length
    first = _place(rng, box)
    second = _place(rng, box, first, (far + 0.5 * length, far + 3.0 * length))
    start = np.array([[*first, rng.uniform(-np.pi, np.pi)], [*second, rng.uniform(-np.pi, np.pi)]])

    def wall_near(j: int, position: np.ndarray) -> list[float]:
        """Directions (radians) into the walls closer than a body length."""
        x, y = position[j]
        return [a for a, near in ((np.pi, x < box[0] + length), (0.0, x > box[2] - length),
                                  (-np.pi / 2, y < box[1] + length), (np.pi / 2, y > box[3] - length)) if near]

    def steer(i: int, position: np.ndarray, heading: np.ndarray, pace: np.ndarray):
        offset = position[1] - position[0]
        distance = float(np.hypot(*offset))
        if distance >= far:
            return (0.0, 0.0), (1.0, 1.0)
        push = 2.5 * min(1.0, (far - distance) / length)
        turns = []
        for j, away in ((0, np.arctan2(-offset[1], -offset[0])), (1, np.arctan2(offset[1], offset[0]))):
            walls = wall_near(j, position)
            for wall in walls:  # not into a wall close by: along it instead
                if np.cos(away - wall) > 0:
                    away = wall + np.pi / 2 * (1.0 if np.sin(away - wall) >= 0 else -1.0)
            arc = float(np.mod(away - heading[j], 2 * np.pi))  # this much the positive way round
            positive = any(np.mod(w - heading[j], 2 * np.pi) < arc for w in walls)  # passes a wall that way
            negative = any(np.mod(w - heading[j], 2 * np.pi) > arc for w in walls)
            error = arc - 2 * np.pi if positive and not negative else arc if negative and not positive else float(
                _wrap(away - heading[j]))
            turns.append(push * error)
        return tuple(turns), (1.0, 1.0)

    return _walk_pair(rng, n, fps, box, scales, start, steer, 0.7 * length)


def _sniffing(rng: np.random.Generator, n: int, fps: float, box: tuple[float, float, float, float],
              scales: Sequence[float]) -> list[Kinematics]:
    """The actor (first) sniffs the partner, who stands and shifts a little: its nose goes to the partner's
    anogenital region (from behind) or to a flank (from the side), changing every 1.5 to 4 s, with small scanning
    head movements."""
    length = 80.0 * float(np.mean(scales))
    t = np.arange(n) / fps
    centre = _place(rng, _shrink(box, 1.5 * length))
    partner = Kinematics.still(n, *centre, rng.uniform(-np.pi, np.pi))
    _drift(partner, rng, fps, _shrink(box, 1.2 * length), 0.25 * length, 0.3)
    partner.head_yaw[:] = _ou(rng, n, fps, 0.2, 1.0)
    partner.tail[:, 0], partner.tail[:, 1] = _ou(rng, n, fps, 0.15, 2.0), _ou(rng, n, fps, 0.25, 2.0)
    # where the actor's nose goes, in the partner's frame (u forward, w to its right, reference pixels), and from
    # which side it comes (the direction from that point to the actor's spine, relative to the partner's heading)
    targets = {'anogenital': ((-40.0, 0.0), np.pi), 'left flank': ((-15.0, -13.0), -np.pi / 2),
               'right flank': ((-15.0, 13.0), np.pi / 2)}
    names = list(targets)
    choice = _segments(rng, n, fps, lambda r, i: (float(r.integers(len(names))), r.uniform(1.5, 4.0))).astype(int)
    u = np.array([targets[names[c]][0][0] for c in choice]) + _ou(rng, n, fps, 6.0, 1.0)
    w = np.array([targets[names[c]][0][1] for c in choice])
    side = np.array([targets[names[c]][1] for c in choice]) + _ou(rng, n, fps, 0.35, 1.5)
    u, w = _smooth(u, fps, 1.2), _smooth(w, fps, 1.2)
    side = np.arctan2(_smooth(np.sin(side), fps, 1.2), _smooth(np.cos(side), fps, 1.2))
    c, s = np.cos(partner.heading), np.sin(partner.heading)
    nose_x = partner.cx + scales[1] * (c * u - s * w)
    nose_y = partner.cy + scales[1] * (s * u + c * w)
    reach = 44.0 * scales[0]  # spine to nose, pixels
    away = partner.heading + side
    actor = Kinematics.still(n, 0.0, 0.0, 0.0)
    actor.cx[:] = nose_x + reach * np.cos(away)
    actor.cy[:] = nose_y + reach * np.sin(away)
    actor.heading[:] = away + np.pi + _ou(rng, n, fps, 0.08, 0.5)
    scan = 2 * np.pi * rng.uniform(1.5, 3.0) * t + rng.uniform(0, 2 * np.pi)
    actor.head_yaw[:] = 0.12 * np.sin(scan) + _ou(rng, n, fps, 0.1, 0.4)
    actor.head_pitch[:] = 0.92 + 0.05 * np.sin(1.7 * scan)
    actor.bend[:] = _ou(rng, n, fps, 0.004, 1.0)
    actor.paws[:] = _ou_stack(rng, (4, 2), n, fps, 2.0, 0.5)
    actor.tail[:, 0], actor.tail[:, 1] = _ou(rng, n, fps, 0.15, 2.0), _ou(rng, n, fps, 0.25, 2.0)
    for k in (actor, partner):
        k.occlusion[:] = 1.5  # the two bodies hide each other's points now and then
    return [actor, partner]


def _fighting(rng: np.random.Generator, n: int, fps: float, box: tuple[float, float, float, float],
              scales: Sequence[float]) -> list[Kinematics]:
    """Both, face to face at 0.5 to 1 body lengths, circle each other fast (2 to 6 radians a second, changing
    direction every 0.3 to 1 s) while the pair lunges about; bouts of upright boxing and of rolling (the bodies
    twist: narrower from above, bent), scrabbling paws, lashing tails; many occluded points."""
    length = 80.0 * float(np.mean(scales))
    t = np.arange(n) / fps
    inner = _shrink(box, 0.8 * length)
    centre = _place(rng, inner)
    pair_x = np.clip(centre[0] + _ou(rng, n, fps, 0.8 * length, 1.0), inner[0], inner[2])
    pair_y = np.clip(centre[1] + _ou(rng, n, fps, 0.8 * length, 1.0), inner[1], inner[3])
    spin = _segments(rng, n, fps, lambda r, i: (r.choice([-1.0, 1.0]) * r.uniform(2.0, 6.0), r.uniform(0.3, 1.0)))
    line = rng.uniform(-np.pi, np.pi) + np.cumsum(_smooth(spin, fps, 0.15)) / fps  # direction from one to the other
    apart = length * np.clip(0.75 + 0.2 * _ou(rng, n, fps, 1.0, 0.3), 0.5, 1.0)
    animals = []
    for j, sign in enumerate((-1.0, 1.0)):
        k = Kinematics.still(n, 0.0, 0.0, 0.0)
        k.cx[:] = pair_x + sign * apart / 2 * np.cos(line)
        k.cy[:] = pair_y + sign * apart / 2 * np.sin(line)
        k.heading[:] = line + (0.0 if j == 0 else np.pi) + _ou(rng, n, fps, 0.4, 0.3)  # facing the other
        boxing = _smooth(_segments(rng, n, fps, lambda r, i: (float(r.random() < 0.35), r.uniform(0.5, 1.5))),
                         fps, 0.2)
        rolling = _smooth(_segments(rng, n, fps, lambda r, i: (float(r.random() < 0.3), r.uniform(0.4, 1.2))),
                          fps, 0.2)
        k.lift[:] = boxing * rng.uniform(0.25, 0.45)
        k.front_width[:] = 1.0 + 0.2 * boxing
        k.width[:] = 1.0 - 0.35 * rolling * np.abs(np.sin(2 * np.pi * rng.uniform(1.0, 2.0) * t))
        k.bend[:] = np.clip(_ou(rng, n, fps, 0.008, 0.3) + 0.012 * rolling * np.sin(2 * np.pi * t), -0.03, 0.03)
        k.head_yaw[:] = _ou(rng, n, fps, 0.35, 0.2)
        k.head_pitch[:] = 1.0 - 0.2 * boxing
        k.paws[:] = _ou_stack(rng, (4, 2), n, fps, 6.0, 0.1)
        k.tail[:, 0], k.tail[:, 1] = _ou(rng, n, fps, 0.5, 0.3), _ou(rng, n, fps, 0.7, 0.3)
        k.jitter[:] = _ou_stack(rng, (len(BODYPARTS), 2), n, fps, 2.0 * scales[j], 0.1)
        k.occlusion[:] = 3.0
        animals.append(k)
    return animals


SOCIAL_SIMULATORS: dict[str, Callable[..., list[Kinematics]]] = {
    'approach': _approach, 'follow': _follow, 'sniffing': _sniffing, 'fighting': _fighting, 'apart': _apart,
}


def make_pair(rng: np.random.Generator, frame_size: float) -> tuple[Animal, Animal]:
    """Two simulated animals for the social sample, three quarters the size of the single-animal sample's (the
    social arena is filmed from higher up): body length (nose to tail base) about 60 px in a 480-px-high frame."""
    return make_animal(rng, frame_size * _SOCIAL_SIZE), make_animal(rng, frame_size * _SOCIAL_SIZE)


def simulate_pair(behaviour: str, animals: Sequence[Animal], rng: np.random.Generator, n_frames: int = 600,
                  fps: float = 30.0, width: int = 640, height: int = 480) -> tuple[np.ndarray, int]:
    """One two-animal recording of ``behaviour``: ((T, 2, V, 3) float32 x, y, likelihood; NaN for points not found,
    the actor's slot). The actor (the animal that approaches, follows or sniffs) is slot 0 or 1 at random."""
    if behaviour not in SOCIAL_SIMULATORS:
        raise ValueError(f'unknown social behaviour {behaviour!r} (allowed: {", ".join(SOCIAL_SIMULATORS)})')
    actor = int(rng.integers(2))
    order = [actor, 1 - actor]  # simulated as (actor, partner)
    scales = [animals[m].scale for m in order]
    margin = _BODY_RADIUS * max(scales) + 8.0
    box = (margin, margin, width - 1 - margin, height - 1 - margin)
    kinematics = SOCIAL_SIMULATORS[behaviour](rng, n_frames, fps, box, scales)
    data = np.empty((n_frames, 2, len(BODYPARTS), 3))
    for k, m in zip(kinematics, order):
        true_xy = pose_from_kinematics(k, animals[m])
        data[:, m] = detect(true_xy, k, rng, fps, width, height, animals[m].scale)
    lost = data[..., 2] < 0.01  # maDLC leaves points it could not assemble empty
    if behaviour == 'fighting':  # and loses a whole animal for a few frames in a scuffle
        for i, m in zip(*np.nonzero(rng.random((n_frames, 2)) < 0.3 / fps)):
            lost[i:i + int(rng.integers(2, 9)), m] = True
    data[lost] = np.nan
    return data.astype(np.float32), actor


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
    _check_sample_args(recordings=recordings, abnormal=abnormal, frames=frames, fps=fps, width=width, height=height)
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
    folders = [os.path.join(out_dir, 'csv_data', b) for b in BEHAVIOURS] + [os.path.join(out_dir, 'abnormal')]
    _remove_stale(folders, set(written['csv']) | set(written['abnormal']), SCORER)
    return written


def make_social_sample(out_dir: str, seed: int = 0, recordings: int = 6, frames: int = 600, fps: float = 30.0,
                       width: int = 640, height: int = 480) -> dict[str, list[str]]:
    """Write the two-animal (social) sample project into ``out_dir``; return the paths written.

    Returns ``{'config': [config.yaml], 'csv': [every csv_data/<behaviour>/*.csv]}``. The same arguments give
    byte-identical files. Recording ``pairNN_<behaviour>`` is pair NN of a cohort of ``recordings`` pairs (the same
    pairs do every behaviour). Older social sample CSVs left in these folders by a bigger run are removed.
    """
    _check_sample_args(recordings=recordings, frames=frames, fps=fps, width=width, height=height)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NotADirectoryError(f'{out_dir}: output exists and is not a folder')
    cohort = [make_pair(np.random.default_rng([seed, 2000, i]), min(width, height)) for i in range(recordings)]
    written: dict[str, list[str]] = {'config': [], 'csv': []}
    names = []
    for code, behaviour in enumerate(SOCIAL_BEHAVIOURS):
        for i in range(recordings):
            name = f'pair{i + 1:02d}_{behaviour}'
            names.append(name)
            data, _ = simulate_pair(behaviour, cohort[i], np.random.default_rng([seed, 100 + code, i]), frames, fps,
                                    width, height)
            path = os.path.join(out_dir, 'csv_data', behaviour, f'{name}{SOCIAL_SCORER}{SOCIAL_SUFFIX}.csv')
            _write_text(path, dlc_csv_text(data, SOCIAL_SCORER, individuals=INDIVIDUALS))
            written['csv'].append(path)
    config = os.path.join(out_dir, 'config.yaml')
    _write_text(config, dlc_config_text(names, width, height, task=SOCIAL_TASK, individuals=INDIVIDUALS))
    written['config'].append(config)
    _remove_stale([os.path.join(out_dir, 'csv_data', b) for b in SOCIAL_BEHAVIOURS], set(written['csv']),
                  SOCIAL_SCORER + SOCIAL_SUFFIX)
    return written


_LOWEST = {'recordings': 1, 'abnormal': 0, 'frames': 1, 'width': 64, 'height': 64}


def _check_sample_args(fps: float, **counts: int) -> None:
    """ValueError naming the first count under its lowest value (``_LOWEST``) or a frame rate not above 0."""
    for name, value in counts.items():
        if int(value) != value or value < _LOWEST[name]:
            raise ValueError(f'{name} must be an integer >= {_LOWEST[name]}, got {value!r}')
    if not fps > 0:
        raise ValueError(f'fps must be > 0, got {fps!r}')


def _remove_stale(folders: Sequence[str], keep: set[str], scorer: str) -> None:
    """Remove sample CSVs of an earlier, bigger run: files in ``folders`` named with ``scorer``, not in ``keep``."""
    for folder in folders:
        for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            path = os.path.join(folder, entry)
            if entry.endswith(f'{scorer}.csv') and path not in keep and os.path.isfile(path):
                logger.warning('removing %s, left by an earlier sample run', path)
                os.remove(path)


# ---------------------------------------------------------------- command line

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write a deterministic DeepLabCut-style sample project (12-bodypart rat, five behaviours in '
                    'csv_data/<behaviour>/, seizure-like recordings in abnormal/, config.yaml) for the quick start; '
                    'with --social, a multi-animal (maDLC) project of two rats and five social behaviours.',
        formatter_class=HelpFormatter)
    parser.add_argument('--out', default=None,
                        help='output folder (created if needed); default data/sample, or data/social_sample with '
                             '--social')
    parser.add_argument('--social', action='store_true',
                        help=f'write the two-animal sample: maDLC CSVs of {", ".join(SOCIAL_BEHAVIOURS)}')
    parser.add_argument('--seed', type=int, default=0, help='random seed; the same seed gives identical files')
    parser.add_argument('--recordings', type=int, default=6,
                        help='recordings per behaviour (one animal, or with --social one pair, each)')
    parser.add_argument('--abnormal', type=int, default=None,
                        help='abnormal (seizure-like) recordings, 0 for none; default 4 (not with --social)')
    parser.add_argument('--frames', type=int, default=600, help='frames per recording')
    parser.add_argument('--fps', type=float, default=30.0, help='frame rate, frames per second')
    parser.add_argument('--width', type=int, default=640, help='frame width, pixels')
    parser.add_argument('--height', type=int, default=480, help='frame height, pixels')
    args = parser.parse_args(argv)
    if args.social and args.abnormal is not None:
        parser.error('--abnormal applies to the single-animal sample, not to --social')
    if args.out is None:
        args.out = 'data/social_sample' if args.social else 'data/sample'
    if args.abnormal is None and not args.social:
        args.abnormal = 4
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    start = time.perf_counter()
    if args.social:
        written = make_social_sample(args.out, seed=args.seed, recordings=args.recordings, frames=args.frames,
                                     fps=args.fps, width=args.width, height=args.height)
        logger.info('wrote %d two-animal recordings of %s (%d each) to %s, and %s', len(written['csv']),
                    ', '.join(SOCIAL_BEHAVIOURS), args.recordings, os.path.join(args.out, 'csv_data'),
                    written['config'][0])
    else:
        written = make_sample(args.out, seed=args.seed, recordings=args.recordings, abnormal=args.abnormal,
                              frames=args.frames, fps=args.fps, width=args.width, height=args.height)
        logger.info('wrote %d recordings of %s (%d each) to %s, %d abnormal (%s) recordings to %s, and %s',
                    len(written['csv']), ', '.join(BEHAVIOURS), args.recordings, os.path.join(args.out, 'csv_data'),
                    len(written['abnormal']), ABNORMAL_BEHAVIOUR, os.path.join(args.out, 'abnormal'),
                    written['config'][0])
    size = sum(os.path.getsize(path) for paths in written.values() for path in paths)
    logger.info('%d frames at %g fps, %dx%d px; %.1f MB in %.1f s', args.frames, args.fps, args.width, args.height,
                size / 1e6, time.perf_counter() - start)
    return 0


if __name__ == '__main__':
    run_cli(main)
