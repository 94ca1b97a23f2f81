"""Score a per-frame ethogram against a person's labels: frame and bout metrics, smoothing, and the files.

Pure functions on numpy arrays (no torch). T is the number of frames, K the number of classes.
``true`` is a (T,) int array of class indices, -1 where a frame is not scored (unlabelled, or labelled with a
behaviour the model does not have); ``pred`` is a (T,) int array of class indices; ``probs`` is (T, K).

How the numbers are defined:

- **Macro F1** is the unweighted mean F1 over the classes that occur in the truth or in the predictions of the
  scored frames (sklearn's default label set). A class absent from both has F1 = 0/0: counting it as 0 would mark
  a recording down for having no seizure in it, counting it as 1 would lift the score with a class nothing tested.
  A class labelled but never predicted counts 0 (missed), as does one predicted but never labelled (false alarms).
  ``bout_macro_f1`` uses the same rule: the classes with at least one true or predicted bout.
- **Excluded frames** count in ``frames_excluded`` and nowhere else: they end the runs of both tracks, so a
  predicted bout inside an unlabelled stretch is neither a hit nor a false alarm.
- **Bouts** are runs of one class. A predicted bout matches a true bout of the same class when their temporal IoU
  (frames in both / frames in either) is at least ``iou``; matching is one to one, greedy by IoU, highest first
  (ties: the earlier true bout, then the earlier predicted bout). ``bout_f1`` pools the counts of all classes:
  2 * matched / (true bouts + predicted bouts). ``boundary_error`` is the mean of the absolute start and end
  offsets (frames) of the matched bouts, both ends of every match averaged together.
- **Pooling** several recordings adds their confusion matrices (so the frame metrics are those of the concatenated
  frames) and their bout counts (a bout never spans two recordings); it is not a mean of per-recording F1s.
- **HMM smoothing** decodes the most likely label sequence (Viterbi) under a sticky transition matrix: class k
  stays with probability p_k and moves to each other class with (1 - p_k) / (K - 1). Bout lengths are then
  geometric with mean 1 / (1 - p_k), so ``min_bout`` frames gives p = 1 - 1/min_bout and a per-class mean bout
  length m_k gives p_k = 1 - 1/m_k. ``min_bout`` is thus the expected bout length of the prior, not a hard
  minimum: strong enough evidence still yields a shorter bout. A derived p_k is never below 1/K, the uniform
  matrix, under which Viterbi returns the per-frame argmax (so min_bout=1 means no smoothing).
"""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from typing import Any, Sequence

import numpy as np

from torchlight import atomic_write

from . import report

SMOOTHING_METHODS = ('none', 'median', 'hmm')
PER_CLASS_CSV_FIELDS = ('class', 'precision', 'recall', 'f1', 'support', 'bout_precision', 'bout_recall', 'bout_f1')
EXCLUDED_COLOR = (0.85, 0.85, 0.85)


# ------------------------------------------------------------------------------------------------ input checks
def _as_labels(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f'{name} must be a (T,) array of class indices, got shape {array.shape}')
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f'{name} must hold integer class indices, got dtype {array.dtype}')
    return array.astype(np.int64)


def _check_pair(true: Any, pred: Any, num_class: int) -> tuple[np.ndarray, np.ndarray]:
    """(T,) int64 true and pred; true in [-1, K), pred in [0, K) wherever true is scored."""
    true, pred = _as_labels(true, 'true'), _as_labels(pred, 'pred')
    if len(true) != len(pred):
        raise ValueError(f'true and pred must have one label per frame each, got {len(true)} and {len(pred)} frames')
    if len(true) and (true.min() < -1 or true.max() >= num_class):
        raise ValueError(f'true must hold class indices in [0, {num_class}) or -1 (excluded), '
                         f'got values from {true.min()} to {true.max()}')
    scored = pred[true >= 0]
    if len(scored) and (scored.min() < 0 or scored.max() >= num_class):
        raise ValueError(f'pred must hold class indices in [0, {num_class}) on every scored frame, '
                         f'got values from {scored.min()} to {scored.max()}')
    return true, pred


def _check_iou(iou: float) -> float:
    if not 0 < iou <= 1:
        raise ValueError(f'iou must be in (0, 1], got {iou}')
    return float(iou)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


# ------------------------------------------------------------------------------------------------ frame metrics
def _frame_metrics(confusion: np.ndarray, class_names: Sequence[str], frames_excluded: int) -> dict[str, Any]:
    """Frame metrics from a (K, K) confusion matrix (rows true, columns predicted): everything they need."""
    from sklearn.metrics import accuracy_score
    confusion = np.asarray(confusion, dtype=np.int64)
    scored = int(confusion.sum())
    macro = report.macro_f1(confusion) if scored else None
    accuracy = float(accuracy_score(*report.matrix_pairs(confusion))) if scored else None
    return {'macro_f1': macro, 'accuracy': accuracy, 'frames_scored': scored, 'frames_excluded': int(frames_excluded),
            'per_class': report.per_class_rows(confusion, list(class_names)), 'confusion': confusion.tolist()}


def frame_scores(true: np.ndarray, pred: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """Per-frame scores of ``pred`` (T,) against ``true`` (T,) on the frames where ``true`` is not -1.

    Returns ``per_class`` (a list of {class, precision, recall, f1, support}, 0 where undefined), ``macro_f1``
    (over the classes labelled or predicted, see the module docstring), ``accuracy``, ``confusion`` (K lists of K
    counts, rows true, columns predicted), ``frames_scored`` and ``frames_excluded``. ``macro_f1`` and ``accuracy``
    are None when no frame is scored. All values are plain Python numbers and lists.
    """
    num_class = len(class_names)
    true, pred = _check_pair(true, pred, num_class)
    scored = true >= 0
    confusion = report.confusion_matrix(true[scored], pred[scored], num_class)
    return _frame_metrics(confusion, class_names, int(np.count_nonzero(~scored)))


# ------------------------------------------------------------------------------------------------ bouts
def _runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal labels, -1 runs left out: (classes, starts, ends), each (R,) int64, ends exclusive."""
    labels = np.asarray(labels, dtype=np.int64)
    if not len(labels):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(labels)]])
    classes = labels[starts]
    keep = classes >= 0
    return classes[keep], starts[keep], ends[keep]


def _match(true_start: np.ndarray, true_end: np.ndarray, pred_start: np.ndarray, pred_end: np.ndarray,
           iou: float) -> tuple[list[int], list[int]]:
    """One-to-one matches (true indices, pred indices) of two sorted lists of disjoint intervals [start, end).

    Only overlapping pairs are candidates; as each list is sorted and disjoint, the predicted bouts overlapping a
    true bout are a contiguous range, found by binary search (at most R_true + R_pred pairs in all).
    """
    first = np.searchsorted(pred_end, true_start, side='right')  # first predicted bout ending after the start
    stop = np.searchsorted(pred_start, true_end, side='left')  # predicted bouts starting before the end
    counts = np.maximum(stop - first, 0)
    ti = np.repeat(np.arange(len(true_start)), counts)
    offset_in_range = np.arange(len(ti)) - np.repeat(np.cumsum(counts) - counts, counts)
    pj = first[ti] + offset_in_range
    overlap = np.minimum(true_end[ti], pred_end[pj]) - np.maximum(true_start[ti], pred_start[pj])
    union = (true_end - true_start)[ti] + (pred_end - pred_start)[pj] - overlap
    ratio = overlap / union
    keep = ratio >= iou
    ti, pj, ratio = ti[keep], pj[keep], ratio[keep]
    order = np.lexsort((pj, ti, -ratio))  # highest IoU first; ties: earlier true bout, then earlier predicted
    used_true: set[int] = set()
    used_pred: set[int] = set()
    matched_true, matched_pred = [], []
    for i, j in zip(ti[order].tolist(), pj[order].tolist()):
        if i not in used_true and j not in used_pred:
            used_true.add(i)
            used_pred.add(j)
            matched_true.append(i)
            matched_pred.append(j)
    return matched_true, matched_pred


def _bout_counts(true: np.ndarray, pred: np.ndarray, num_class: int, iou: float) -> dict[str, Any]:
    """Per-class bout counts (K,) and the summed boundary offsets; ``pred`` already -1 wherever ``true`` is."""
    true_class, true_start, true_end = _runs(true)
    pred_class, pred_start, pred_end = _runs(pred)
    counts = {'bouts_true': np.bincount(true_class, minlength=num_class),
              'bouts_predicted': np.bincount(pred_class, minlength=num_class),
              'bouts_matched': np.zeros(num_class, dtype=np.int64)}
    offset_sum = 0
    for k in range(num_class):
        t, p = true_class == k, pred_class == k
        matched_true, matched_pred = _match(true_start[t], true_end[t], pred_start[p], pred_end[p], iou)
        counts['bouts_matched'][k] = len(matched_true)
        offset_sum += int(np.abs(true_start[t][matched_true] - pred_start[p][matched_pred]).sum()
                          + np.abs(true_end[t][matched_true] - pred_end[p][matched_pred]).sum())
    counts['boundary_offset_sum'] = offset_sum
    return counts


def _bout_metrics(counts: dict[str, Any], iou: float) -> dict[str, Any]:
    """Bout precision/recall/F1 per class and pooled over classes, from the counts of :func:`_bout_counts`."""
    n_true = np.asarray(counts['bouts_true'], dtype=np.int64)
    n_pred = np.asarray(counts['bouts_predicted'], dtype=np.int64)
    n_match = np.asarray(counts['bouts_matched'], dtype=np.int64)
    per_class = [{'bout_precision': _ratio(m, p), 'bout_recall': _ratio(m, t), 'bout_f1': _ratio(2 * m, t + p),
                  'bouts_true': int(t), 'bouts_predicted': int(p), 'bouts_matched': int(m)}
                 for t, p, m in zip(n_true, n_pred, n_match)]
    total_true, total_pred, total_match = int(n_true.sum()), int(n_pred.sum()), int(n_match.sum())
    any_bout = total_true + total_pred > 0
    present = (n_true + n_pred) > 0
    offset_sum = int(counts['boundary_offset_sum'])
    return {'bout_precision': _ratio(total_match, total_pred) if any_bout else None,
            'bout_recall': _ratio(total_match, total_true) if any_bout else None,
            'bout_f1': _ratio(2 * total_match, total_true + total_pred) if any_bout else None,
            'bout_macro_f1': float(np.mean([row['bout_f1'] for row, keep in zip(per_class, present) if keep]))
            if any_bout else None,
            'boundary_error': offset_sum / (2 * total_match) if total_match else None,
            'bouts_true': total_true, 'bouts_predicted': total_pred, 'bouts_matched': total_match,
            'boundary_offset_sum': offset_sum, 'iou': float(iou), 'per_class': per_class}


def bout_scores(true: np.ndarray, pred: np.ndarray, num_class: int, iou: float = 0.5) -> dict[str, Any]:
    """Bout-level scores of ``pred`` (T,) against ``true`` (T,); see the module docstring for the matching rule.

    Returns ``per_class`` (a list of K {bout_precision, bout_recall, bout_f1, bouts_true, bouts_predicted,
    bouts_matched}), the pooled ``bout_precision``, ``bout_recall``, ``bout_f1`` and their counts,
    ``bout_macro_f1``, ``boundary_error`` (frames; None when no bout matches), ``boundary_offset_sum`` (the sum
    behind it, for pooling) and ``iou``. Pooled values are None when there is no bout at all.
    """
    iou = _check_iou(iou)
    true, pred = _check_pair(true, pred, num_class)
    pred = np.where(true >= 0, pred, -1)  # excluded frames end the predicted runs too
    return _bout_metrics(_bout_counts(true, pred, num_class, iou), iou)


# ------------------------------------------------------------------------------------------------ both, pooled
_SUMMARY_KEYS = ('macro_f1', 'accuracy', 'bout_f1', 'bout_macro_f1', 'bout_precision', 'bout_recall',
                 'boundary_error', 'frames_scored', 'frames_excluded', 'bouts_true', 'bouts_predicted',
                 'bouts_matched', 'boundary_offset_sum', 'iou')


def _combine(frames: dict[str, Any], bouts: dict[str, Any]) -> dict[str, Any]:
    merged = {**frames, **bouts}
    result = {key: merged[key] for key in _SUMMARY_KEYS}
    result['per_class'] = [{**frame_row, **bout_row} for frame_row, bout_row in zip(frames['per_class'],
                                                                                     bouts['per_class'])]
    result['confusion'] = frames['confusion']
    return result


def evaluate(true: np.ndarray, pred: np.ndarray, class_names: Sequence[str], iou: float = 0.5) -> dict[str, Any]:
    """Frame and bout scores of one recording, JSON-ready (plain floats, ints, lists; None where undefined).

    Keys: macro_f1, accuracy, bout_f1, bout_macro_f1, bout_precision, bout_recall, boundary_error, frames_scored,
    frames_excluded, bouts_true, bouts_predicted, bouts_matched, boundary_offset_sum, iou, per_class (K dicts:
    class, precision, recall, f1, support, bout_precision, bout_recall, bout_f1, bouts_true, bouts_predicted,
    bouts_matched) and confusion (K x K counts, rows true). The counts are what :func:`pool` adds up.
    """
    return _combine(frame_scores(true, pred, class_names), bout_scores(true, pred, len(class_names), iou))


def pool(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The evaluation of several recordings together, from their :func:`evaluate` results.

    Exact, not a mean of F1s: the frame metrics come from the summed confusion matrices (the metrics of the
    concatenated frames) and the bout metrics from the summed bout counts (bouts never span recordings).
    The results must share class names and ``iou``.
    """
    if not results:
        raise ValueError('pool: no results to pool')
    names = [row['class'] for row in results[0]['per_class']]
    iou = results[0]['iou']
    for i, result in enumerate(results):
        other = [row['class'] for row in result['per_class']]
        if other != names:
            raise ValueError(f'pool: result {i} has classes {other}, result 0 has {names}')
        if result['iou'] != iou:
            raise ValueError(f'pool: result {i} matched bouts at iou={result["iou"]}, result 0 at iou={iou}')
    confusion = np.sum([np.asarray(result['confusion'], dtype=np.int64) for result in results], axis=0)
    excluded = sum(int(result['frames_excluded']) for result in results)
    counts = {key: np.sum([[row[key] for row in result['per_class']] for result in results], axis=0)
              for key in ('bouts_true', 'bouts_predicted', 'bouts_matched')}
    counts['boundary_offset_sum'] = sum(int(result['boundary_offset_sum']) for result in results)
    return _combine(_frame_metrics(confusion, names, excluded), _bout_metrics(counts, iou))


def evaluate_many(recordings: Sequence[tuple[str, np.ndarray, np.ndarray]], class_names: Sequence[str],
                  iou: float = 0.5) -> dict[str, Any]:
    """{'recordings': {name: evaluate(...)}, 'pooled': pool(...)} for [(name, true (T_i,), pred (T_i,)), ...]."""
    per_recording: dict[str, dict[str, Any]] = {}
    for name, true, pred in recordings:
        if name in per_recording:
            raise ValueError(f'evaluate_many: recording name {name!r} appears twice')
        try:
            per_recording[name] = evaluate(true, pred, class_names, iou)
        except ValueError as error:
            raise ValueError(f'{name}: {error}') from None
    return {'recordings': per_recording, 'pooled': pool(list(per_recording.values()))}


def _format(value: float | None, digits: int) -> str:
    return 'n/a' if value is None else f'{value:.{digits}f}'


def summary_line(name: str, result: dict[str, Any]) -> str:
    """'name: macro F1 0.812, accuracy 0.874, bout F1 0.71 (n frames scored, m excluded)'."""
    line = (f'macro F1 {_format(result["macro_f1"], 3)}, accuracy {_format(result["accuracy"], 3)}, '
            f'bout F1 {_format(result["bout_f1"], 2)} '
            f'({result["frames_scored"]} frames scored, {result["frames_excluded"]} excluded)')
    return f'{name}: {line}' if name else line


# ------------------------------------------------------------------------------------------------ smoothing
def mean_bout_lengths(labels: np.ndarray | Sequence[np.ndarray], num_class: int) -> np.ndarray:
    """(K,) float64 mean run length in frames of each class in training labels; nan for a class with no run.

    ``labels`` is one (T,) array or a list of them (one per recording: runs never cross recordings); -1 frames
    end runs and are not counted.
    """
    arrays = [labels] if isinstance(labels, np.ndarray) and labels.ndim == 1 else list(labels)
    frames = np.zeros(num_class, dtype=np.int64)
    runs = np.zeros(num_class, dtype=np.int64)
    for array in arrays:
        array = _as_labels(array, 'labels')
        if len(array) and (array.min() < -1 or array.max() >= num_class):
            raise ValueError(f'labels must hold class indices in [0, {num_class}) or -1, '
                             f'got values from {array.min()} to {array.max()}')
        classes, starts, ends = _runs(array)
        frames += np.bincount(classes, weights=ends - starts, minlength=num_class).astype(np.int64)
        runs += np.bincount(classes, minlength=num_class)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(runs > 0, frames / np.maximum(runs, 1), np.nan)


def sticky_transition(self_prob: float | np.ndarray, num_class: int) -> np.ndarray:
    """(K, K) transition matrix, row = from: p_k on the diagonal, (1 - p_k) / (K - 1) elsewhere in row k."""
    stay = np.broadcast_to(np.asarray(self_prob, dtype=np.float64), (num_class,))
    if num_class == 1:
        return np.ones((1, 1))
    matrix = np.repeat(((1.0 - stay) / (num_class - 1))[:, None], num_class, axis=1)
    np.fill_diagonal(matrix, stay)
    return matrix


def viterbi(log_emission: np.ndarray, log_transition: np.ndarray,
            log_initial: np.ndarray | None = None) -> np.ndarray:
    """Most likely state sequence (T,) int64 given (T, K) log emissions and a (K, K) log transition (row = from).

    ``log_initial`` (K,) defaults to uniform. Ties go to the lower state index.
    """
    num_frames, num_class = log_emission.shape
    path = np.zeros(num_frames, dtype=np.int64)
    if not num_frames:
        return path
    delta = log_emission[0] + (0.0 if log_initial is None else log_initial)  # (K,) best log score ending in k
    back = np.zeros((num_frames, num_class), dtype=np.intp)  # back[t, k]: best state at t-1 before k at t
    candidates = np.empty((num_class, num_class))
    columns = np.arange(num_class)
    for t in range(1, num_frames):
        np.add(delta[:, None], log_transition, out=candidates)  # (K from, K to)
        best = candidates.argmax(axis=0)
        back[t] = best
        delta = candidates[best, columns] + log_emission[t]
    state = int(delta.argmax())
    path[-1] = state
    for t in range(num_frames - 1, 0, -1):
        state = back[t, state]
        path[t - 1] = state
    return path


def _running_median(values: np.ndarray, window: int) -> np.ndarray:
    """Median of each column of (T, K) ``values`` over ``window`` frames centred on each frame.

    Near the ends the window holds only the frames that exist (it is never padded with copies of the edge).
    """
    from numpy.lib.stride_tricks import sliding_window_view
    num_frames = len(values)
    half = window // 2
    out = np.empty(values.shape, dtype=np.float64)
    if num_frames > 2 * half:
        view = sliding_window_view(values, window, axis=0)  # (T - window + 1, K, window), no copy
        chunk = max(1, 2 ** 22 // (values.shape[1] * window))  # about 32 MB of float64 per np.median
        for begin in range(0, len(view), chunk):
            stop = min(begin + chunk, len(view))
            out[half + begin:half + stop] = np.median(view[begin:stop], axis=-1)
    for t in [*range(min(half, num_frames)), *range(max(half, num_frames - half), num_frames)]:
        out[t] = np.median(values[max(0, t - half):t + half + 1], axis=0)
    return out


def _check_probs(probs: Any) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 1:
        raise ValueError(f'probs must be a (T, K) array of per-frame class probabilities, got shape {probs.shape}')
    if not np.isfinite(probs).all() or (probs < 0).any():
        raise ValueError('probs must be finite and non-negative (per-frame class probabilities)')
    return probs


def _self_probs(num_class: int, min_bout: float | None, self_prob: float | None,
                mean_bout: Sequence[float] | None) -> np.ndarray:
    """(K,) self-transition probabilities from exactly one of self_prob, min_bout, mean_bout."""
    given = [name for name, value in (('self_prob', self_prob), ('min_bout', min_bout), ('mean_bout', mean_bout))
             if value is not None]
    if len(given) != 1:
        raise ValueError(f"method='hmm' needs exactly one of self_prob, min_bout, mean_bout; got "
                         f"{', '.join(given) if given else 'none'}")
    if self_prob is not None:
        if not 0 < self_prob < 1:
            raise ValueError(f'self_prob must be in (0, 1), got {self_prob}')
        return np.full(num_class, float(self_prob))
    if min_bout is not None:
        if not min_bout >= 1:
            raise ValueError(f'min_bout must be at least 1 frame, got {min_bout}')
        lengths = np.full(num_class, float(min_bout))
    else:
        lengths = np.asarray(mean_bout, dtype=np.float64)
        if lengths.shape != (num_class,):
            raise ValueError(f'mean_bout must give one mean bout length per class ({num_class}), '
                             f'got shape {lengths.shape}')
        bad = np.flatnonzero(~(lengths >= 1))  # nan too: a class mean_bout_lengths found no run of
        if len(bad):
            raise ValueError(f'mean_bout of class {bad[0]} is {lengths[bad[0]]}: every class needs a mean bout '
                             'length of at least 1 frame (mean_bout_lengths gives nan for a class absent from '
                             'the training labels; use min_bout or self_prob then)')
    return np.maximum(1.0 - 1.0 / lengths, 1.0 / num_class)


def smooth(probs: np.ndarray, method: str = 'none', window: int | None = None, min_bout: float | None = None,
           self_prob: float | None = None, mean_bout: Sequence[float] | None = None,
           priors: Sequence[float] | None = None) -> np.ndarray:
    """Per-frame labels (T,) int64 from per-frame class probabilities ``probs`` (T, K).

    - ``'none'``: the argmax of each frame.
    - ``'median'``: the argmax of each class's probability after a running median over ``window`` frames (odd;
      shorter at the two ends, where it holds only the frames that exist).
    - ``'hmm'``: Viterbi decoding with ``probs`` as emissions (divided by ``priors`` (K,), the class frequencies
      of the training labels, when given) and the sticky transition matrix of the module docstring, its
      self-transition from exactly one of ``self_prob`` (one p for all classes), ``min_bout`` (frames:
      p = 1 - 1/min_bout) or ``mean_bout`` ((K,) frames, e.g. from :func:`mean_bout_lengths`: p_k = 1 - 1/m_k).
    """
    if method not in SMOOTHING_METHODS:
        raise ValueError(f"smoothing method must be one of {', '.join(SMOOTHING_METHODS)}, got {method!r}")
    probs = _check_probs(probs)
    num_class = probs.shape[1]
    if method == 'none':
        return probs.argmax(axis=1).astype(np.int64)
    if method == 'median':
        if window is None or int(window) != window or window < 1 or window % 2 == 0:
            raise ValueError(f"method='median' needs an odd window of at least 1 frame, got window={window}")
        return _running_median(probs, int(window)).argmax(axis=1).astype(np.int64)
    stay = _self_probs(num_class, min_bout, self_prob, mean_bout)
    tiny = np.finfo(np.float64).tiny  # a zero probability becomes very unlikely rather than impossible
    log_emission = np.log(np.maximum(probs, tiny))
    if priors is not None:
        priors = np.asarray(priors, dtype=np.float64)
        if priors.shape != (num_class,) or not np.isfinite(priors).all() or (priors <= 0).any():
            raise ValueError(f'priors must be {num_class} positive class frequencies, got {priors.tolist()}')
        log_emission = log_emission - np.log(priors)
    return viterbi(log_emission, np.log(sticky_transition(stay, num_class)))


# ------------------------------------------------------------------------------------------------ files
def _binned_labels(labels: np.ndarray, num_class: int, bins: int) -> np.ndarray:
    """(min(T, bins),) the most frequent label of each of equal bins of ``labels`` (T,); -1 (excluded) included."""
    num_frames = len(labels)
    if num_frames <= bins:
        return labels
    which = (np.arange(num_frames) * bins) // num_frames  # the bin of each frame
    counts = np.bincount(which * (num_class + 1) + labels + 1, minlength=bins * (num_class + 1))
    return counts.reshape(bins, num_class + 1).argmax(axis=1) - 1


def _class_colors(num_class: int) -> list[tuple[float, float, float]]:
    """The class colours of the demo's ethogram (tab10, tab20 beyond 10 classes)."""
    import matplotlib
    colors = matplotlib.colormaps['tab10' if num_class <= 10 else 'tab20'].colors
    return [tuple(colors[i % len(colors)]) for i in range(num_class)]


def plot_timeline(path: str, true: np.ndarray, pred: np.ndarray, class_names: Sequence[str],
                  fps: float | None = None, title: str = '', bins: int = 2000) -> None:
    """The human and the predicted label timelines, one image row each, coloured by class; excluded frames grey.

    ``true`` and ``pred`` are (T,); a frame of either outside [0, K) is drawn grey (the prediction is drawn
    where the truth is excluded, if it is a class). Long recordings are cut into ``bins`` equal bins showing
    their most frequent label, so a one-hour recording is still one readable line per track.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    num_class = len(class_names)
    rows = []
    for labels in (true, pred):
        labels = np.where((labels >= 0) & (labels < num_class), labels, -1)
        rows.append(_binned_labels(labels, num_class, bins))
    palette = np.array([*_class_colors(num_class), EXCLUDED_COLOR])  # index -1 = excluded
    image = palette[np.stack(rows)]  # (2, bins, 3)
    scale, unit = (1.0 / fps, 's') if fps else (1.0, 'frames')
    figure = Figure(figsize=(14, 2.8), layout='constrained')
    axes = figure.subplots()
    axes.imshow(image, aspect='auto', interpolation='nearest', extent=(0, len(true) * scale, 1.5, -0.5))
    axes.set_yticks([0, 1], labels=['human', 'predicted'])
    axes.set_xlabel(f'time ({unit})')
    axes.set_title(title, fontsize=10)
    handles = [Patch(color=color, label=name) for color, name in zip(_class_colors(num_class), class_names)]
    handles.append(Patch(color=EXCLUDED_COLOR, label='excluded'))
    figure.legend(handles=handles, loc='outside lower center', ncol=min(len(handles), 8), frameon=False,
                  fontsize=8)
    report.save_figure(figure, path)


def _write_json(path: str, data: dict[str, Any]) -> None:
    with atomic_write(path, 'w') as handle:
        json.dump(data, handle, indent=2, allow_nan=False)
        handle.write('\n')


def _write_per_class_csv(path: str, result: dict[str, Any]) -> None:
    with atomic_write(path, 'w') as handle:
        writer = csv.writer(handle, lineterminator='\n')
        writer.writerow(PER_CLASS_CSV_FIELDS)
        for row in result['per_class']:
            writer.writerow([row['class']] + [f'{row[key]:.4f}' for key in ('precision', 'recall', 'f1')]
                            + [row['support']] + [f'{row[key]:.4f}' for key in PER_CLASS_CSV_FIELDS[5:]])


def _write_confusion_csv(path: str, confusion: np.ndarray, class_names: Sequence[str]) -> None:
    with atomic_write(path, 'w') as handle:
        writer = csv.writer(handle, lineterminator='\n')
        writer.writerow(['true \\ predicted', *class_names])
        for name, row in zip(class_names, confusion.tolist()):
            writer.writerow([name, *row])


def write_evaluation(out_dir: str, result: dict[str, Any], class_names: Sequence[str],
                     true: np.ndarray | None = None, pred: np.ndarray | None = None, fps: float | None = None,
                     title: str = '') -> list[str]:
    """Write one :func:`evaluate` (or :func:`pool`) result to ``out_dir``; returns the paths written.

    evaluation.json (the result, with ``title`` when given), evaluation_per_class.csv, confusion_matrix.csv
    (class names as header and first column; rows true), confusion_matrix.png and, with ``true`` and ``pred``
    (T,), timeline.png (time in s with ``fps``). All or nothing: the files are made in a hidden folder in
    ``out_dir`` and moved into place only once every one is made, so a failure leaves no file behind.
    """
    names = [row['class'] for row in result['per_class']]
    if list(class_names) != names:
        raise ValueError(f'write_evaluation: class_names {list(class_names)} differ from the result\'s {names}')
    if (true is None) != (pred is None):
        raise ValueError('write_evaluation: give both true and pred for timeline.png, or neither')
    if true is not None:
        true, pred = _as_labels(true, 'true'), _as_labels(pred, 'pred')
        if len(true) != len(pred):
            raise ValueError(f'true and pred must have one label per frame each, got {len(true)} and '
                             f'{len(pred)} frames')
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ValueError(f'fps must be a positive number of frames per second, got {fps}')
    confusion = np.asarray(result['confusion'], dtype=np.int64)
    heading = summary_line(title, result)
    os.makedirs(out_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.evaluation.', dir=out_dir)
    try:
        _write_json(os.path.join(staging, 'evaluation.json'), {'title': title, **result} if title else result)
        _write_per_class_csv(os.path.join(staging, 'evaluation_per_class.csv'), result)
        _write_confusion_csv(os.path.join(staging, 'confusion_matrix.csv'), confusion, names)
        report.plot_confusion_matrix(os.path.join(staging, 'confusion_matrix.png'), confusion, names,
                                     title=f'{title + ": " if title else ""}frames ({int(confusion.sum())} scored, '
                                           f'accuracy {_format(result["accuracy"], 3)})')
        if true is not None:
            plot_timeline(os.path.join(staging, 'timeline.png'), true, pred, names, fps, heading)
        written = []
        for name in sorted(os.listdir(staging)):
            os.replace(os.path.join(staging, name), os.path.join(out_dir, name))
            written.append(os.path.join(out_dir, name))
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ recordings
def score_tracks(recording: str, tracks: Sequence[tuple[str, np.ndarray]], true: np.ndarray,
                 class_names: Sequence[str], out_dir: str, fps: float | None = None
                 ) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    """Score the ethogram tracks of one recording (``(individual, pred (T,))``, one per labelled individual or
    group) against its human labels ``true`` (T,); write each track's evaluation files (in ``out_dir``, or
    ``out_dir/evaluation_<individual>`` when there are several tracks) and return ``(name, true, pred, summary
    line)`` per track, ready for :func:`write_pooled`."""
    scored = []
    for individual, pred in tracks:
        name = recording if len(tracks) == 1 else f'{recording} [{individual}]'
        folder = out_dir if len(tracks) == 1 else os.path.join(out_dir, f'evaluation_{individual}')
        result = evaluate(true, pred, class_names)
        write_evaluation(folder, result, class_names, true=true, pred=pred, fps=fps, title=name)
        scored.append((name, true, pred, summary_line(name, result)))
    return scored


def write_pooled(scored: Sequence[tuple[str, np.ndarray, np.ndarray, str]], class_names: Sequence[str],
                 out_dir: str) -> str:
    """The evaluation pooled over every scored track (:func:`evaluate_many`) written to ``out_dir``; returns its
    summary line."""
    pooled = evaluate_many([(name, true, pred) for name, true, pred, _ in scored], class_names)['pooled']
    write_evaluation(out_dir, pooled, class_names, title=f'{len(scored)} recordings pooled')
    return summary_line(f'pooled over {len(scored)}', pooled)
