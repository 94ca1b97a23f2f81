"""Whole-recording labelling: sliding windows, per-frame probabilities, bouts, and the ethogram files.

Pure functions on numpy arrays, used by :mod:`processor.demo` and its tests.
"""
from __future__ import annotations

import csv
import os
from typing import Sequence

import numpy as np

from torchlight import atomic_write


def window_starts(num_frames: int, window: int, stride: int) -> np.ndarray:
    """First frames of the windows covering ``num_frames``: every ``stride`` frames, plus one ending at the end."""
    if window < 1 or stride < 1:
        raise ValueError(f'--window and --stride must be at least 1 frame, got {window} and {stride}')
    if num_frames < window:
        raise ValueError(f'the recording has {num_frames} frames, shorter than one window of {window} frames '
                         '(use a smaller --window)')
    starts = np.arange(0, num_frames - window + 1, stride)
    if starts[-1] != num_frames - window:
        starts = np.append(starts, num_frames - window)
    return starts


def frame_average(values: np.ndarray, starts: np.ndarray, window: int, num_frames: int) -> np.ndarray:
    """Average of the window values (W, K) over the windows covering each frame: (num_frames, K); 0 where no
    window covers a frame.

    Each frame's sum is taken over its own windows (not as a running sum over the recording, whose round-off left
    probabilities near 0 slightly negative), so averages of probabilities stay probabilities.
    """
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    frames = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(window)  # (W, window)
    inside = frames < num_frames
    index = frames[inside]
    row = np.broadcast_to(np.arange(len(values))[:, None], frames.shape)[inside]
    coverage = np.bincount(index, minlength=num_frames)
    total = np.stack([np.bincount(index, values[row, k], num_frames) for k in range(values.shape[1])], axis=1)
    return total / np.maximum(coverage, 1)[:, None]


def bouts(labels: np.ndarray, confidence: np.ndarray, min_bout: int = 1) -> list[tuple[int, int, int, float]]:
    """Runs of equal labels as (label, start, end inclusive, mean confidence).

    Bouts shorter than ``min_bout`` frames are merged, shortest first, into their longer neighbour.
    """
    labels = np.asarray(labels)
    if len(labels) == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(labels)]]) - 1
    runs = [[int(labels[s]), int(s), int(e)] for s, e in zip(starts, ends)]
    while min_bout > 1 and len(runs) > 1:
        lengths = [e - s + 1 for _, s, e in runs]
        shortest = int(np.argmin(lengths))
        if lengths[shortest] >= min_bout:
            break
        left = runs[shortest - 1] if shortest > 0 else None
        right = runs[shortest + 1] if shortest + 1 < len(runs) else None
        if right is None or (left is not None and (left[2] - left[1]) >= (right[2] - right[1])):
            left[2] = runs[shortest][2]
        else:
            right[1] = runs[shortest][1]
        del runs[shortest]
        merged = [runs[0]]  # neighbours may now share a label
        for run in runs[1:]:
            if run[0] == merged[-1][0]:
                merged[-1][2] = run[2]
            else:
                merged.append(run)
        runs = merged
    return [(label, s, e, float(np.mean(confidence[s:e + 1]))) for label, s, e in runs]


def bout_labels(num_frames: int, runs: Sequence[tuple[int, int, int, float]]) -> np.ndarray:
    """Per-frame labels after bout merging."""
    out = np.zeros(num_frames, dtype=np.int64)
    for label, start, end, _ in runs:
        out[start:end + 1] = label
    return out


def write_ethogram_csv(path: str, tracks: Sequence[dict], class_names: Sequence[str], fps: float | None) -> None:
    """frame, [time_s], individual, label, confidence, p_<class>..., [anomaly_score]; one row per frame and track."""
    with_anomaly = any(track.get('anomaly') is not None for track in tracks)
    header = ['frame'] + (['time_s'] if fps else []) + ['individual', 'label', 'confidence']
    header += [f'p_{name}' for name in class_names] + (['anomaly_score'] if with_anomaly else [])
    with atomic_write(path, 'w') as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for track in tracks:
            probs, labels = track['probs'], track['labels']
            for frame in range(len(labels)):
                row = [frame] + ([f'{frame / fps:.3f}'] if fps else []) + [
                    track['individual'], class_names[labels[frame]], f'{probs[frame, labels[frame]]:.4f}']
                row += [f'{p:.4f}' for p in probs[frame]]
                if with_anomaly:
                    row.append(f'{track["anomaly"][frame]:.4f}' if track.get('anomaly') is not None else '')
                writer.writerow(row)


def write_bouts_csv(path: str, tracks: Sequence[dict], class_names: Sequence[str], fps: float | None) -> None:
    header = ['individual', 'label', 'start_frame', 'end_frame', 'duration_frames'] + \
        (['duration_s'] if fps else []) + ['mean_confidence']
    with atomic_write(path, 'w') as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for track in tracks:
            for label, start, end, confidence in track['bouts']:
                length = end - start + 1
                writer.writerow([track['individual'], class_names[label], start, end, length]
                                + ([f'{length / fps:.3f}'] if fps else []) + [f'{confidence:.4f}'])


def _binned(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(centres, means) of ``values`` in at most ``bins`` equal bins, so an hour-long trace stays readable."""
    n = len(values)
    if n <= bins:
        return np.arange(n), values
    edges = np.linspace(0, n, bins + 1).astype(int)
    sums = np.add.reduceat(values, edges[:-1])
    return (edges[:-1] + edges[1:]) / 2, sums / np.diff(edges)


def plot_ethogram(path: str, tracks: Sequence[dict], class_names: Sequence[str], fps: float | None,
                  title: str) -> None:
    """A timeline coloured by class per individual, with the confidence (and anomaly) trace beneath each."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    num_frames = len(tracks[0]['labels'])
    scale = 1.0 / fps if fps else 1.0
    unit = 's' if fps else 'frames'
    if fps and num_frames / fps > 600:
        scale, unit = 1.0 / (fps * 60), 'min'
    colors = matplotlib.colormaps['tab10' if len(class_names) <= 10 else 'tab20'].colors
    cmap = ListedColormap([colors[i % len(colors)] for i in range(len(class_names))])
    rows = len(tracks)
    height = 1.6 + 1.9 * rows  # inches; the top 0.7 in hold the title and the legend
    fig, axes = plt.subplots(2 * rows, 1, figsize=(14, height), sharex=True, squeeze=False,
                             gridspec_kw={'height_ratios': [1, 1.2] * rows})
    extent = (0, num_frames * scale, 0, 1)
    for i, track in enumerate(tracks):
        band, trace = axes[2 * i, 0], axes[2 * i + 1, 0]
        band.imshow(track['labels'][None, :], aspect='auto', cmap=cmap, vmin=-0.5,
                    vmax=len(class_names) - 0.5, extent=extent, interpolation='nearest')
        band.set_yticks([])
        band.set_ylabel(str(track['individual']), rotation=0, ha='right', va='center')
        x, conf = _binned(track['probs'].max(axis=1), 4000)
        trace.plot(x * scale, conf, color='black', linewidth=0.6, label='confidence')
        trace.set_ylim(0, 1.05)
        trace.set_ylabel('conf.', fontsize=8)
        if track.get('anomaly') is not None:
            other = trace.twinx()
            xa, anomaly = _binned(track['anomaly'], 4000)
            other.plot(xa * scale, anomaly, color='tab:red', linewidth=0.6)
            other.set_ylabel('anomaly', color='tab:red', fontsize=8)
    axes[-1, 0].set_xlabel(f'time ({unit})')
    axes[-1, 0].set_xlim(0, num_frames * scale)
    handles = [Patch(color=cmap(i), label=name) for i, name in enumerate(class_names)]
    fig.suptitle(title, y=1 - 0.08 / height, va='top', fontsize=10)
    fig.legend(handles=handles, loc='upper center', bbox_to_anchor=(0.5, 1 - 0.32 / height),
               ncol=min(len(class_names), 8), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.7 / height))
    with atomic_write(path, 'wb') as handle:
        fig.savefig(handle, format='png', dpi=100)
    plt.close(fig)


def write_annotated_video(video: str, out_path: str, pose: np.ndarray, score: np.ndarray,
                          edges: Sequence[tuple[int, int]], tracks: Sequence[dict], class_names: Sequence[str],
                          size: tuple[float, float]) -> None:
    """Copy ``video`` with each individual's skeleton and current label drawn on it (OpenCV, mp4v)."""
    import cv2
    capture = cv2.VideoCapture(video)
    if not capture.isOpened():
        raise ValueError(f'{video}: OpenCV cannot open this video')
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    directory = os.path.dirname(os.path.abspath(out_path))
    tmp = os.path.join(directory, '.' + os.path.basename(out_path) + '.tmp.mp4')
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*'mp4v'), fps, (width, height))
    palette = [(66, 135, 245), (245, 130, 48), (60, 180, 75), (230, 25, 75), (145, 30, 180), (70, 240, 240)]
    sx, sy = width / size[0], height / size[1]
    try:
        frame_index = 0
        while True:
            ok, frame = capture.read()
            if not ok or frame_index >= len(pose):
                break
            for i, track in enumerate(tracks):
                color = palette[i % len(palette)]
                xy = pose[frame_index, i] * np.array([size[0] * sx, size[1] * sy])  # (V, 2) pixels
                visible = score[frame_index, i] > 0
                for a, b in edges:
                    if visible[a] and visible[b]:
                        cv2.line(frame, tuple(int(v) for v in xy[a]), tuple(int(v) for v in xy[b]), color, 2)
                for v in np.flatnonzero(visible):
                    cv2.circle(frame, tuple(int(c) for c in xy[v]), 3, color, -1)
                label = class_names[track['labels'][frame_index]]
                conf = track['probs'][frame_index].max()
                cv2.putText(frame, f'{track["individual"]}: {label} {conf:.2f}', (10, 25 + 22 * i),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.6, color, 2, cv2.LINE_AA)
            cv2.putText(frame, f'frame {frame_index}', (10, height - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (255, 255, 255), 1, cv2.LINE_AA)
            writer.write(frame)
            frame_index += 1
        writer.release()
        os.replace(tmp, out_path)
    finally:
        capture.release()
        writer.release()
        if os.path.exists(tmp):
            os.unlink(tmp)


STITCH_WEIGHTINGS = ('centre', 'uniform')


def window_weights(window: int, weighting: str = 'centre', margin: int = 0) -> np.ndarray:
    """(window,) weight of each position of a window when its per-frame scores are stitched.

    ``'centre'``: the triangle ``min(i + 1, window - i)``: 1 at either end, about window / 2 in the middle, so a frame
    near a window's edge, which the model saw with little context on one side, counts little. ``'uniform'``: 1.
    ``margin``: the first and last ``margin`` positions get weight 0 (see :func:`stitch_frames`).
    """
    if weighting not in STITCH_WEIGHTINGS:
        raise ValueError(f'weighting {weighting!r}: allowed values are {", ".join(STITCH_WEIGHTINGS)}')
    if margin < 0:
        raise ValueError(f'margin must be >= 0 frames, got {margin}')
    position = np.arange(window)
    weight = np.minimum(position + 1, window - position).astype(np.float64) if weighting == 'centre' \
        else np.ones(window)
    weight[:margin] = 0.0
    weight[max(window - margin, 0):] = 0.0
    return weight


def stitch_frames(window_scores: np.ndarray, starts: np.ndarray, num_frames: int, weighting: str = 'centre',
                  margin: int = 0) -> np.ndarray:
    """Per-frame scores of a recording from overlapping windows of per-frame scores: (num_frames, K).

    Args:
        window_scores: (W, K, window) per-frame scores of each window (e.g. a dense model's softmax probabilities).
        starts: (W,) first frame of each window (:func:`window_starts`).
        num_frames: frames in the recording; every frame must lie in a window.
        weighting: ``'centre'`` or ``'uniform'`` weights over each window's positions (:func:`window_weights`).
        margin: frames at each end of a window that are left out (weight 0), except at the recording's own first
            and last frames, where no window has context beyond them either. With ``margin`` at least the model's
            receptive field R (``net.st_gcn_dense.Model.receptive_field``), starts at multiples of its temporal
            stride and the model in eval mode, every frame gets exactly the scores of one pass over the whole
            recording; then ``stride <= window - 2 * margin`` is needed so that every frame keeps a weight.

    Each frame gets the weighted mean of the scores of the windows covering it. A frame left with zero total weight
    (margins too wide for the stride) is a ValueError naming it.
    """
    window_scores = np.asarray(window_scores, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    if window_scores.ndim != 3:
        raise ValueError(f'window_scores must be (W, K, window), got shape {window_scores.shape}')
    count, num_class, window = window_scores.shape
    if starts.shape != (count,):
        raise ValueError(f'{count} windows of scores but {starts.size} window starts')
    if count == 0:
        raise ValueError('no windows to stitch')
    if starts.min() < 0 or starts.max() + window > num_frames:
        raise ValueError(f'windows of {window} frames starting at {starts.min()}..{starts.max()} do not fit in '
                         f'{num_frames} frames')
    base = window_weights(window, weighting, margin)  # (window,)
    weight = np.broadcast_to(base, (count, window)).copy()  # (W, window)
    if margin:  # no window sees past the recording's ends: keep the edges that lie on them
        keep = np.ones(window) if weighting == 'uniform' else window_weights(window, weighting)
        head, tail = starts == 0, starts + window == num_frames
        weight[head, :margin] = keep[:margin]
        weight[tail, window - margin:] = keep[window - margin:]
    frames = starts[:, None] + np.arange(window)[None, :]  # (W, window)
    index = frames.ravel()  # (W*window,)
    weighted = window_scores * weight[:, None, :]  # (W, K, window)
    total = np.stack([np.bincount(index, weighted[:, k].ravel(), num_frames) for k in range(num_class)], axis=1)
    norm = np.bincount(index, weight.ravel(), num_frames)  # (num_frames,)
    empty = np.flatnonzero(norm <= 0)
    if len(empty):
        raise ValueError(f'frames {empty[0]}..{empty[-1]} ({len(empty)} frames) get no weight: every window covering '
                         f'them has them within its margin of {margin} frames, or no window covers them (use a '
                         f'stride of at most window - 2 * margin = {window - 2 * margin})')
    return total / norm[:, None]
