"""Hand-feature gradient-boosting baseline on the real labelled recordings: the bar a per-frame ST-GCN has to clear.

For each dataset in ``../shared/real-labelled`` (skipped when absent) it trains ``hand_features.fit_baseline`` on one
recording and tests on the other, then the reverse (the two directions are the two folds), for several seeds, and
scores per frame (macro F1 over the classes present in the test truth, per-class F1, accuracy) and per bout (runs
of one class; a predicted bout matches a true bout of its class at temporal IoU >= 0.5, one to one, greedy by IoU),
from the raw per-frame probabilities and after a centred running mean of the probabilities (``--smooth_s``).

Tasks:
    behaviordepot  freezing vs not-freezing, demo1 (50 fps) <-> demo2 (30 fps); every frame labelled. Features
                   use time in seconds (speeds per second, windows and lags converted with each recording's fps)
                   and lengths in body lengths, so the fps and resolution differ freely. The bodyparts are renamed
                   to a common set (``BEHAVIORDEPOT_COMMON``); demo2's ``LED`` has no counterpart and is excluded.
    sturman        other / Supported / Unsupported / Grooming rearing and grooming, 8_01 <-> 12_01 (25 fps); one
                   rater (``--truth``) is the truth, the other two are scored against it as the human ceiling.
                   Only frames of the pose excerpt inside the truth rater's observation period count.
Two feature sets are scored with every seed: 'all features' (the baseline as designed before any scoring) and
'no per-frame speeds' (without ``speed.*``, keeping the net displacements over windows), chosen after the first
run showed that per-frame speeds do not carry over between recordings whose tracking jitter, in body lengths,
differs (BehaviorDEPOT demo2 has 2.4 times demo1's; ``jitter_body_lengths`` in the results). Also: a reference (the
training recording's majority class), feature-group, window and pose-smoothing ablations and a sweep of the
smoothing window (seed 0; diagnostics looked at after the test folds were scored, not tuned settings), and the
feature runtime on a synthetic 108,000-frame, 12-bodypart recording. The GBM settings are
``hand_features.GBM_SETTINGS``, fixed before any scoring. The whole run takes about 15 minutes on 2 busy cores.

    python benchmarks/real_labelled_baseline.py [--data ../shared/real-labelled] [--out /tmp/results_real_baseline.json]
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import tempfile
import time
from typing import Any, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

import numpy as np  # noqa: E402

import hand_features as hf  # noqa: E402
from torchlight import atomic_write, run_cli  # noqa: E402

logger = logging.getLogger('real_labelled_baseline')

DEFAULT_DATA = os.path.join(os.path.dirname(ROOT), 'shared', 'real-labelled')
# benchmarks/results_real_baseline.json is not in .gitignore, so the default is outside the repository
DEFAULT_OUT = os.path.join(tempfile.gettempdir(), 'results_real_baseline.json')
WINDOWS_S = (0.25, 0.5, 1.0, 2.0)  # the baseline's rolling windows
EXTRA_WINDOWS_S = (4.0,)  # computed for the window ablation only
POSE_SMOOTH_S = 0.2  # the pose-smoothing ablation: centred running median of the positions

# BehaviorDEPOT (SOURCES.md): demo1 names -> demo2 names, checked on the data (median position of each point along
# and across the tailbase -> nose axis agree within 0.1 body length): demo1's legs sit where demo2's hips do (0.3
# body lengths in front of the tail base, 0.2-0.3 to each side), demo1's Tail is a tail point behind the base like
# demo2's midtail. demo2's LED is not a body point: it moves with the mouse about 0.3 body lengths ahead of the nose
# (a head-mounted light), and demo1 has nothing like it.
BEHAVIORDEPOT_COMMON = ['nose', 'l_ear', 'r_ear', 'midback', 'l_hip', 'r_hip', 'tailbase', 'midtail']
BEHAVIORDEPOT = {
    'folder': 'behaviordepot', 'classes': ['not-freezing', 'freezing'],
    'recordings': {
        'demo1': {'pose': 'demo1_tracking.csv', 'labels': 'demo1_freezing_per_frame.csv', 'fps': 50.0,
                  'rename': {'Nose': 'nose', 'Left Ear': 'l_ear', 'Right Ear': 'r_ear', 'Mid-Back': 'midback',
                             'Left Leg': 'l_hip', 'Right Leg': 'r_hip', 'Tailbase': 'tailbase',
                             'Tail': 'midtail'}},
        'demo2': {'pose': 'demo2_tracking.csv', 'labels': 'demo2_freezing_per_frame.csv', 'fps': 30.0,
                  'rename': {}},
    },
}
STURMAN_MARKERS = ('Start/End', 'StartEnd')  # both spellings occur (raters differ); they bound the observation
STURMAN_IGNORED = ('_DEFAULT',)  # annotation-tool rows that duplicate a marker or a bout; not a behaviour
STURMAN = {
    'folder': 'sturman_oft', 'classes': ['other', 'Supported', 'Unsupported', 'Grooming'], 'fps': 25.0,
    'raters': ['Jin', 'Furkan', 'Oliver'], 'arena_corners': ['tl', 'tr', 'br', 'bl'], 'arena_centre': 'centre',
    'recordings': {
        '8_01': {'pose': '8_01_A_190507134142DeepCut_resnet50_Blockcourse1May9shuffle1_1030000.csv',
                 'labels': '8_01_A_190507134142.csv'},
        '12_01': {'pose': '12_01_A_190507144429DeepCut_resnet50_Blockcourse1May9shuffle1_1030000.csv',
                  'labels': '12_01_A_190507144429.csv'},
    },
}


# ------------------------------------------------------------------ labels
# TODO: replace with feeder.annotations
def _read_frame_labels(path: str, num_frames: int) -> np.ndarray:
    """(T,) int labels from a ``frame,<behaviour>`` CSV with one 0/1 row per frame."""
    import pandas as pd

    table = pd.read_csv(path)
    if list(table.columns[:1]) != ['frame'] or table.shape[1] != 2:
        raise ValueError(f'{path}: expected columns frame,<behaviour>; got {list(table.columns)}')
    frames = table['frame'].to_numpy()
    if len(frames) != num_frames or not np.array_equal(frames, np.arange(num_frames)):
        raise ValueError(f'{path}: expected frames 0..{num_frames - 1} once each (the pose file has {num_frames}); '
                         f'got {len(frames)} rows from {frames.min()} to {frames.max()}')
    return table.iloc[:, 1].to_numpy().astype(np.int64)


# TODO: replace with feeder.annotations
def _read_rater_bouts(path: str, rater: str, fps: float, num_frames: int, classes: Sequence[str]
                      ) -> tuple[np.ndarray, dict[str, Any]]:
    """One rater's bouts in seconds -> (T,) labels: the class index inside a bout, 0 (``other``) elsewhere in the
    observation period, -1 outside it. A bout covers frames f with start <= f / fps < end. Where two bouts of a rater
    overlap, the later-starting one wins. The observation period runs from the first marker's start to the last
    marker's end (marker rows: ``STURMAN_MARKERS``); ``STURMAN_IGNORED`` rows are skipped.
    """
    import pandas as pd

    table = pd.read_csv(path, index_col=0)
    missing = {'Experimenter', 'from', 'to', 'type'} - set(table.columns)
    if missing:
        raise ValueError(f'{path}: no column(s) {sorted(missing)}; columns are {list(table.columns)}')
    rows = table[table['Experimenter'] == rater].sort_values('from', kind='stable')
    if rows.empty:
        raise ValueError(f'{path}: no rows of rater {rater!r}; raters are {sorted(table["Experimenter"].unique())}')
    unknown = set(rows['type']) - set(classes) - set(STURMAN_MARKERS) - set(STURMAN_IGNORED)
    if unknown:
        raise ValueError(f'{path}: rater {rater!r} has bout types {sorted(unknown)}; known: {list(classes)[1:]}, '
                         f'markers {list(STURMAN_MARKERS)}, ignored {list(STURMAN_IGNORED)}')
    seconds = np.arange(num_frames) / fps
    labels = np.zeros(num_frames, np.int64)
    overlap = 0
    for start, end, kind in rows[['from', 'to', 'type']].itertuples(index=False):
        if kind in classes:
            inside = (seconds >= start) & (seconds < end)
            overlap += int((inside & (labels > 0)).sum())
            labels[inside] = list(classes).index(kind)
    markers = rows[rows['type'].isin(STURMAN_MARKERS)]
    if markers.empty:
        raise ValueError(f'{path}: rater {rater!r} has no observation marker ({" or ".join(STURMAN_MARKERS)})')
    period = (float(markers['from'].min()), float(markers['to'].max()))
    labels[(seconds < period[0]) | (seconds >= period[1])] = -1
    return labels, {'observation_s': period, 'overlapping_frames': overlap,
                    'ignored_rows': int(rows['type'].isin(STURMAN_IGNORED).sum())}


# ------------------------------------------------------------------ metrics
def runs(labels: np.ndarray, cls: int) -> list[tuple[int, int]]:
    """(start, end) frame ranges, end exclusive, of the runs of ``cls`` in ``labels``."""
    inside = np.concatenate([[False], labels == cls, [False]])
    edges = np.flatnonzero(np.diff(inside.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


# TODO: replace with processor.evaluation
def bout_scores(truth: np.ndarray, pred: np.ndarray, cls: int, min_iou: float = 0.5) -> dict[str, Any]:
    """Bout-level F1 of one class: true and predicted bouts are runs of ``cls``; a predicted bout matches a true
    bout at temporal IoU >= ``min_iou``, one to one, pairs taken greedily by IoU. Frames where truth is -1 are not
    part of any bout (they split runs). F1 is None when there are no bouts on either side."""
    pred = np.where(truth < 0, -1, pred)
    true_bouts, pred_bouts = runs(truth, cls), runs(pred, cls)
    pairs = []
    for i, (ts, te) in enumerate(true_bouts):
        for j, (ps, pe) in enumerate(pred_bouts):
            inter = min(te, pe) - max(ts, ps)
            if inter > 0:
                iou = inter / ((te - ts) + (pe - ps) - inter)
                if iou >= min_iou:
                    pairs.append((iou, i, j))
    used_true, used_pred = set(), set()
    for iou, i, j in sorted(pairs, key=lambda p: -p[0]):
        if i not in used_true and j not in used_pred:
            used_true.add(i)
            used_pred.add(j)
    total = len(true_bouts) + len(pred_bouts)
    return {'f1': 2 * len(used_true) / total if total else None, 'true_bouts': len(true_bouts),
            'pred_bouts': len(pred_bouts), 'matched': len(used_true)}


def score(truth: np.ndarray, pred: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Frame and bout scores on the frames where truth >= 0. Macro F1 averages the classes present in the truth;
    per-class F1 is None for a class absent from the truth. The bout F1 averages the behaviour classes (all but
    the first, the background) present in the truth."""
    from sklearn.metrics import f1_score

    keep = truth >= 0
    t, p = truth[keep], pred[keep]
    K = len(classes)
    present = [k for k in range(K) if (t == k).any()]
    per_class = f1_score(t, p, labels=list(range(K)), average=None, zero_division=0)
    bouts = {classes[k]: bout_scores(truth, pred, k) for k in range(K)}
    behaviour = [bouts[classes[k]]['f1'] for k in present if k > 0]
    return {
        'frames': int(keep.sum()),
        'macro_f1': float(f1_score(t, p, labels=present, average='macro', zero_division=0)),
        'per_class_f1': {classes[k]: (float(per_class[k]) if k in present else None) for k in range(K)},
        'accuracy': float((t == p).mean()),
        'bout_f1': float(np.mean(behaviour)) if behaviour else None,
        'bouts': bouts,
        'predicted_frames': {classes[k]: int((p == k).sum()) for k in range(K)},
    }


def mean_scores(runs_: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean, min and max over seeds of the headline numbers of several ``score`` results."""
    def stats(values: list[float | None]) -> dict[str, float] | None:
        values = [v for v in values if v is not None]
        return {'mean': float(np.mean(values)), 'min': float(np.min(values)), 'max': float(np.max(values))} \
            if values else None

    classes = list(runs_[0]['per_class_f1'])
    return {'macro_f1': stats([r['macro_f1'] for r in runs_]), 'accuracy': stats([r['accuracy'] for r in runs_]),
            'bout_f1': stats([r['bout_f1'] for r in runs_]),
            'per_class_f1': {c: stats([r['per_class_f1'][c] for r in runs_]) for c in classes},
            'per_class_bout_f1': {c: stats([r['bouts'][c]['f1'] for r in runs_]) for c in classes}}


# ------------------------------------------------------------------ data
def _load_behaviordepot(folder: str) -> dict[str, dict[str, Any]]:
    from feeder.dlc_io import read_pose_file

    out = {}
    for name, spec in BEHAVIORDEPOT['recordings'].items():
        pose = read_pose_file(os.path.join(folder, spec['pose']))
        renamed = [spec['rename'].get(b, b) for b in pose.bodyparts]
        missing = set(BEHAVIORDEPOT_COMMON) - set(renamed)
        if missing:
            raise ValueError(f'{pose.source}: no bodypart(s) {sorted(missing)} after renaming; has {pose.bodyparts}')
        order = [renamed.index(b) for b in BEHAVIORDEPOT_COMMON]  # common order; LED and the like left out
        labels = _read_frame_labels(os.path.join(folder, spec['labels']), pose.num_frames)
        out[name] = {'xy': pose.xy[:, :, order], 'score': pose.score[:, :, order], 'bodyparts': BEHAVIORDEPOT_COMMON,
                     'fps': spec['fps'], 'truth': labels, 'kwargs': {},
                     'left_out': [b for b in pose.bodyparts if spec['rename'].get(b, b) not in BEHAVIORDEPOT_COMMON]}
    return out


def _load_sturman(folder: str, truth: str) -> dict[str, dict[str, Any]]:
    from feeder.dlc_io import read_pose_file

    out = {}
    for name, spec in STURMAN['recordings'].items():
        pose = read_pose_file(os.path.join(folder, spec['pose']))
        raters = {}
        for rater in STURMAN['raters']:
            raters[rater] = _read_rater_bouts(os.path.join(folder, spec['labels']), rater, STURMAN['fps'],
                                              pose.num_frames, STURMAN['classes'])
        out[name] = {'xy': pose.xy, 'score': pose.score, 'bodyparts': pose.bodyparts, 'fps': STURMAN['fps'],
                     'truth': raters[truth][0], 'raters': raters,
                     'left_out': STURMAN['arena_corners'] + [STURMAN['arena_centre']],
                     'kwargs': {'arena_corners': STURMAN['arena_corners'], 'arena_centre': STURMAN['arena_centre']}}
    return out


def select(names: Sequence[str], keep) -> np.ndarray:
    return np.array([k for k, n in enumerate(names) if keep(n)], np.int64)


def _window(name: str) -> float | None:
    return float(name.rsplit('_', 1)[1][:-1]) if hf.is_rolling(name) else None


def _is_speed(name: str) -> bool:
    """A per-frame speed or a rolling statistic of one (``speed.*``); net displacements are not."""
    return name.split('.')[0] == 'speed'


def feature_sets(names: Sequence[str], has_arena: bool) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(the two headline column sets, the ablation column sets) of the superset features (all windows).

    'all features' is the baseline as designed before any scoring; 'no per-frame speeds' drops ``speed.*`` (per-frame
    speeds and their rolling statistics) and keeps the net displacements: chosen after the first run showed that
    per-frame speeds do not transfer between recordings of different resolution (see FINDINGS).
    """
    base = {n for n in names if _window(n) is None or _window(n) in WINDOWS_S}

    def of_base(keep) -> np.ndarray:
        return select(names, lambda n: n in base and keep(n))

    main = {'all features': of_base(lambda n: True), 'no per-frame speeds': of_base(lambda n: not _is_speed(n))}
    subsets = {
        'no rolling windows (per-frame only)': select(names, lambda n: _window(n) is None),
        'windows <= 0.5 s': select(names, lambda n: _window(n) is None or _window(n) <= 0.5),
        'windows + 4 s': np.arange(len(names)),
        'movement only': of_base(lambda n: hf.feature_group(n) == 'movement'),
        'posture only': of_base(lambda n: hf.feature_group(n) == 'posture'),
        'no occlusion flags': of_base(lambda n: hf.feature_group(n) != 'occlusion'),
    }
    if has_arena:
        subsets['no arena'] = of_base(lambda n: hf.feature_group(n) != 'arena')
        subsets['posture + arena'] = of_base(lambda n: hf.feature_group(n) in ('posture', 'arena'))
    return main, subsets


# ------------------------------------------------------------------ experiment
def _fit_and_score(a: dict[str, Any], b: dict[str, Any], columns: np.ndarray, classes: Sequence[str], seed: int,
                   smooth_s: float, features: str = 'features') -> tuple[dict, dict, np.ndarray, float]:
    """Train on recording a, test on b: (raw scores, smoothed scores, probabilities, fit seconds)."""
    t0 = time.perf_counter()
    model = hf.fit_baseline([a[features][:, columns]], [a['truth']], seed=seed, num_class=len(classes))
    seconds = time.perf_counter() - t0
    probs = hf.predict_baseline(model, b[features][:, columns])
    return (score(b['truth'], probs.argmax(1), classes),
            score(b['truth'], hf.smooth_probs(probs, b['fps'], smooth_s).argmax(1), classes), probs, seconds)


def run_task(task: str, recordings: dict[str, dict[str, Any]], classes: Sequence[str], seeds: Sequence[int],
             smooth_s: float, sweep_s: Sequence[float], do_ablations: bool) -> dict[str, Any]:
    K = len(classes)
    result: dict[str, Any] = {'classes': list(classes), 'recordings': {}, 'directions': {}}
    for name, rec in recordings.items():
        t0 = time.perf_counter()
        rec['features'], rec['names'] = hf.hand_features(rec['xy'], rec['score'], rec['fps'],
                                                         bodyparts=rec['bodyparts'],
                                                         windows_s=WINDOWS_S + EXTRA_WINDOWS_S, **rec['kwargs'])
        seconds = time.perf_counter() - t0
        if do_ablations:
            rec['features_smoothed_pose'], _ = hf.hand_features(
                rec['xy'], rec['score'], rec['fps'], bodyparts=rec['bodyparts'], windows_s=WINDOWS_S + EXTRA_WINDOWS_S,
                pose_smooth_s=POSE_SMOOTH_S, **rec['kwargs'])
        truth = rec['truth']
        body = [k for k, b in enumerate(rec['bodyparts']) if b not in rec['left_out']]
        confident = np.where((rec['score'][:, :, body] >= 0.6)[..., None], rec['xy'][:, :, body], np.nan)
        length, how = hf.body_length(confident, [rec['bodyparts'][k] for k in body])
        result['recordings'][name] = {
            'frames': int(len(truth)), 'scored_frames': int((truth >= 0).sum()), 'fps': rec['fps'],
            'bodyparts': list(rec['bodyparts']), 'left_out_bodyparts': rec['left_out'],
            'body_length_px': length, 'body_length': how, 'feature_seconds': seconds,
            'jitter_body_lengths': jitter(rec['xy'][:, :, body], length),
            'class_frames': {c: int((truth == k).sum()) for k, c in enumerate(classes)},
            'class_bouts': {c: len(runs(truth, k)) for k, c in enumerate(classes)},
        }
        logger.info('%s %s: %d frames, %d features in %.2f s, body length %.1f px (%s)', task, name, len(truth),
                    len(rec['names']), seconds, length, how)
    if len({tuple(r['names']) for r in recordings.values()}) != 1:
        raise ValueError(f'{task}: the recordings give different feature names; their bodyparts must match')
    names = recordings[next(iter(recordings))]['names']
    main_sets, subsets = feature_sets(names, has_arena=any('arena_corners' in r['kwargs']
                                                           for r in recordings.values()))
    result['features'] = {label: {'count': int(len(cols)), 'groups': {
        g: int(sum(hf.feature_group(names[k]) == g for k in cols)) for g in ('movement', 'posture', 'occlusion',
                                                                           'arena')},
        'rolling': int(sum(hf.is_rolling(names[k]) for k in cols))} for label, cols in main_sets.items()}

    for train, test in itertools.permutations(recordings, 2):
        a, b = recordings[train], recordings[test]
        direction = f'{train}->{test}'
        majority = int(np.bincount(a['truth'][a['truth'] >= 0], minlength=K).argmax())
        entry: dict[str, Any] = {
            'train_class_frames': {c: int((a['truth'] == k).sum()) for k, c in enumerate(classes)},
            'majority_class_reference': score(b['truth'], np.full(len(b['truth']), majority), classes)}
        for label, columns in main_sets.items():
            raw_runs, smooth_runs, fit_seconds = [], [], []
            for seed in seeds:
                raw, smooth, probs, seconds = _fit_and_score(a, b, columns, classes, seed, smooth_s)
                raw_runs.append(raw)
                smooth_runs.append(smooth)
                fit_seconds.append(seconds)
                if seed == seeds[0]:
                    first_probs = probs
            entry[label] = {
                'raw': mean_scores(raw_runs), 'smoothed': mean_scores(smooth_runs),
                'per_seed': {'raw': raw_runs, 'smoothed': smooth_runs}, 'fit_seconds': fit_seconds,
                'smoothing_sweep': {f'{s:g}': score(b['truth'], hf.smooth_probs(first_probs, b['fps'], s).argmax(1),
                                                    classes) for s in sweep_s}}
            logger.info('%s %s %s: macro F1 %.3f raw, %.3f smoothed (mean of %d seeds), %.1f s per fit', task,
                        direction, label, entry[label]['raw']['macro_f1']['mean'],
                        entry[label]['smoothed']['macro_f1']['mean'], len(seeds), float(np.mean(fit_seconds)))
        if do_ablations:
            entry['ablations'] = {}
            runs_ = [(label, columns, 'features') for label, columns in subsets.items()]
            runs_ += [(f'pose median {POSE_SMOOTH_S:g} s, {label}', columns, 'features_smoothed_pose')
                      for label, columns in main_sets.items()]
            for label, columns, features in runs_:
                raw, smooth, _, _ = _fit_and_score(a, b, columns, classes, seeds[0], smooth_s, features)
                entry['ablations'][label] = {'features': int(len(columns)), 'raw': raw, 'smoothed': smooth}
                logger.info('%s %s ablation %s: macro F1 %.3f raw, %.3f smoothed', task, direction, label,
                            raw['macro_f1'], smooth['macro_f1'])
        result['directions'][direction] = entry
    return result


def jitter(xy: np.ndarray, length: float) -> float:
    """Tracking jitter in body lengths, label-free: a robust standard deviation of the second difference of the
    positions (x[t+1] - 2 x[t] + x[t-1] has variance 6 sigma^2 for white noise), over all points and frames.
    Real movement adds to it a little; it is a comparison between recordings, not a calibration."""
    second = xy[2:] - 2 * xy[1:-1] + xy[:-2]
    return float(np.nanmedian(np.abs(second)) / 0.6745 / np.sqrt(6) / length)


def inter_rater(recordings: dict[str, dict[str, Any]], classes: Sequence[str], truth: str) -> dict[str, Any]:
    """Every rater scored against every other (the rows with ``truth`` as the truth are the human ceiling). Frames
    outside the scored rater's own observation period but inside the truth's count as ``other``."""
    out: dict[str, Any] = {}
    for name, rec in recordings.items():
        raters = rec['raters']
        out[name] = {'labels': {r: info for r, (_, info) in raters.items()}, 'pairs': {}}
        for reference, other in itertools.permutations(raters, 2):
            labels = np.where(raters[other][0] < 0, 0, raters[other][0])
            out[name]['pairs'][f'{other} vs {reference}'] = score(raters[reference][0], labels, classes)
        out[name]['ceiling'] = {r: out[name]['pairs'][f'{r} vs {truth}'] for r in raters if r != truth}
    means = {}
    for rater in STURMAN['raters']:  # mean agreement of each rater with the others, as truth and as rater
        values = [v['macro_f1'] for rec in out.values() for k, v in rec['pairs'].items() if rater in k.split(' vs ')]
        means[rater] = float(np.mean(values))
    out['mean_macro_f1_with_the_others'] = means
    return out


def feature_speed(frames: int = 108_000, bodyparts: int = 12, fps: float = 30.0) -> dict[str, float]:
    """Seconds ``hand_features`` takes on a synthetic random-walk recording of that size (baseline windows)."""
    rng = np.random.default_rng(0)
    xy = np.cumsum(rng.normal(0, 1, (frames, 1, bodyparts, 2)), 0) + rng.normal(0, 30, (1, 1, bodyparts, 2))
    score = rng.uniform(0.4, 1.0, (frames, 1, bodyparts))
    t0 = time.perf_counter()
    features, _ = hf.hand_features(xy.astype(np.float32), score.astype(np.float32), fps, windows_s=WINDOWS_S)
    return {'frames': frames, 'bodyparts': bodyparts, 'features': int(features.shape[1]),
            'seconds': time.perf_counter() - t0}


# ------------------------------------------------------------------ report
def _fmt(stats: dict[str, float] | float | None, spread: bool = False) -> str:
    if stats is None:
        return '   -'
    if isinstance(stats, dict):
        text = f'{stats["mean"]:.3f}'
        return text + (f' [{stats["min"]:.2f}-{stats["max"]:.2f}]' if spread else '')
    return f'{stats:.3f}'


def _row(label: str, s: dict[str, Any], classes: Sequence[str], spread: bool = False) -> str:
    return (f'{label:36s} {_fmt(s["macro_f1"], spread):>20s} ' +
            ' '.join(f'{_fmt(s["per_class_f1"][c]):>11s}' for c in classes) +
            f' {_fmt(s["accuracy"]):>9s} {_fmt(s["bout_f1"]):>8s}')


def table(results: dict[str, Any], truth: str) -> str:
    """The headline table (mean [min-max] over seeds), the references, the human ceiling and the ablations."""
    lines = []
    for task, res in results['tasks'].items():
        classes = res['classes']
        lines += ['', f'== {task}: frame macro F1 (mean [min-max] over seeds), per-class frame F1, accuracy, bout F1 '
                      f'(behaviour classes, IoU >= 0.5)',
                  f'{"":36s} {"macro F1":>20s} ' + ' '.join(f'{c[:11]:>11s}' for c in classes) +
                  f' {"accuracy":>9s} {"bout F1":>8s}']
        for direction, entry in res['directions'].items():
            for label, short in (('all features', 'GBM all'), ('no per-frame speeds', 'GBM no-speed')):
                for kind in ('raw', 'smoothed'):
                    lines.append(_row(f'{short} {direction} {kind}', entry[label][kind], classes, spread=True))
            lines.append(_row(f'majority class {direction}', entry['majority_class_reference'], classes))
        for name, rec in res.get('inter_rater', {}).items():
            if name != 'mean_macro_f1_with_the_others':
                for rater, s in rec['ceiling'].items():
                    lines.append(_row(f'human {rater} vs {truth} on {name}', s, classes))
        for name, rec in res['recordings'].items():
            lines.append(f'  {name}: ' + ', '.join(f'{c} {n} frames/{rec["class_bouts"][c]} bouts'
                                                   for c, n in rec['class_frames'].items()) +
                         f' ({rec["scored_frames"]} scored frames)')
        directions = [d for d, e in res['directions'].items() if 'ablations' in e]
        if directions:
            lines += [f'  ablations, seed {results["settings"]["seeds"][0]}: frame macro F1 raw / smoothed',
                      f'  {"":44s} ' + ' '.join(f'{d:>16s}' for d in directions)]
            for label in res['directions'][directions[0]]['ablations']:
                cells = [res['directions'][d]['ablations'][label] for d in directions]
                lines.append(f'  {label:44s} ' + ' '.join(
                    f'{c["raw"]["macro_f1"]:7.3f} / {c["smoothed"]["macro_f1"]:.3f}' for c in cells))
    return '\n'.join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default=DEFAULT_DATA, help='folder with behaviordepot/ and sturman_oft/')
    parser.add_argument('--out', default=DEFAULT_OUT, help='JSON file for the results')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='classifier seeds (random_state)')
    parser.add_argument('--smooth_s', type=float, default=0.5,
                        help='centred running-mean window over the probabilities, seconds')
    parser.add_argument('--sweep_s', type=float, nargs='+', default=[0.25, 0.5, 1.0, 2.0],
                        help='smoothing windows of the sensitivity sweep, seconds')
    parser.add_argument('--truth', default='Jin', choices=STURMAN['raters'], help='Sturman rater taken as the truth')
    parser.add_argument('--tasks', nargs='+', default=['behaviordepot', 'sturman'],
                        choices=['behaviordepot', 'sturman'], help='which datasets to run')
    parser.add_argument('--no_ablations', action='store_true', help='skip the feature-group ablations')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='[%(asctime)s] %(message)s', datefmt='%H:%M:%S')
    t_start = time.perf_counter()
    results: dict[str, Any] = {
        'settings': {'gbm': hf.GBM_SETTINGS, 'seeds': args.seeds, 'windows_s': WINDOWS_S, 'pcutoff': 0.6,
                     'max_gap_s': 0.2, 'speed_lag_s': 0.1, 'smooth_s': args.smooth_s, 'truth_rater': args.truth,
                     'behaviordepot_bodyparts': {n: s['rename'] or {b: b for b in BEHAVIORDEPOT_COMMON}
                                                 for n, s in BEHAVIORDEPOT['recordings'].items()}},
        'tasks': {}, 'skipped': []}
    for task in args.tasks:
        spec = BEHAVIORDEPOT if task == 'behaviordepot' else STURMAN
        folder = os.path.join(args.data, spec['folder'])
        if not os.path.isdir(folder):
            logger.warning('%s: %s not found, skipped', task, folder)
            results['skipped'].append(task)
            continue
        recordings = _load_behaviordepot(folder) if task == 'behaviordepot' else _load_sturman(folder, args.truth)
        results['tasks'][task] = run_task(task, recordings, spec['classes'], args.seeds, args.smooth_s,
                                          args.sweep_s, not args.no_ablations)
        if task == 'sturman':
            results['tasks'][task]['inter_rater'] = inter_rater(recordings, spec['classes'], args.truth)
    results['feature_speed'] = feature_speed()
    results['total_seconds'] = time.perf_counter() - t_start
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with atomic_write(out, 'w') as handle:
        json.dump(results, handle, indent=1)
    print(table(results, args.truth))
    fs = results['feature_speed']
    print(f'\nfeatures of a {fs["frames"]}-frame, {fs["bodyparts"]}-bodypart recording: {fs["seconds"]:.1f} s; '
          f'whole run {results["total_seconds"]:.0f} s; wrote {out}')
    return 0


if __name__ == '__main__':
    run_cli(main)
