"""ST-GCN against a hand-feature gradient-boosting baseline on real labelled recordings, run as a user would.

Datasets (``../shared/real-labelled``, skipped when absent; their licences are not the project's, nothing is copied):
    behaviordepot  mouse freezing, demo1 (50 fps, 8 bodyparts) <-> demo2 (30 fps, 9 bodyparts, named differently):
                   the BORIS-layout exports as the labels, classes other / freezing
    sturman        mouse open field, 8_01 <-> 12_01 (25 fps, 80 s each; 13 body points after 5 arena points): one
                   rater's bouts in seconds as the truth (``--truth``), classes other / Supported / Unsupported /
                   Grooming; the other two raters scored against it are the human ceiling
Each dataset is two recordings: train on one, test on the other, then the reverse.

Methods, all scored on the same per-frame truth (``feeder.annotations.frame_labels`` of the test recording's
labels) by ``processor.evaluation.evaluate`` (macro F1 over the classes in the truth or the predictions, accuracy,
per-class F1, bout F1 pooled over classes at temporal IoU >= 0.5):
    dense    the per-frame ST-GCN (net.st_gcn_dense.Model) through the pipeline: csv2json --annotations --cut anywhere
             -> gen_trainDataset --val_recordings -> kinetics_gendata -> main.py recognition -> main.py demo
             --annotations (the ethogram's evaluation.json is the score)
    window   the clip classifier (net.st_gcn.Model) through the same pipeline with csv2json --cut bouts, demo
             averaging overlapping windows per frame
    gbm      benchmarks/hand_features.py: SimBA-style features and sklearn's HistGradientBoostingClassifier, per
             frame ('all features', fixed before any scoring; 'no per-frame speeds', chosen after a first run showed
             that per-frame speeds do not carry over between recordings whose tracking jitter differs)
    human    (sturman) each other rater scored against the truth rater
``--smooth`` adds each method's labels after smoothing: demo --smooth median and --smooth hmm for ST-GCN, a 0.5 s
running mean of the probabilities for the baseline.

    python benchmarks/real_labelled.py [--tasks behaviordepot sturman] [--methods dense window gbm]
                                       [--seeds 0 1 2] [--out /tmp/real_labelled.json] [--work /tmp/real_labelled]
    python benchmarks/real_labelled.py --table /tmp/real_labelled.json     # the tables of an earlier run
"""
from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

import hand_features as hf  # noqa: E402
from feeder import annotations, dlc_io  # noqa: E402
from processor import evaluation  # noqa: E402
from torchlight import DictAction, atomic_write, run_cli  # noqa: E402

logger = logging.getLogger('real_labelled')

DEFAULT_DATA = os.path.join(os.path.dirname(ROOT), 'shared', 'real-labelled')
DEFAULT_OUT = os.path.join(tempfile.gettempdir(), 'real_labelled.json')
DEFAULT_WORK = os.path.join(tempfile.gettempdir(), 'real_labelled')
METHODS = ('dense', 'window', 'gbm')
GBM_WINDOWS_S = (0.25, 0.5, 1.0, 2.0)
GBM_SMOOTH_S = 0.5

# BehaviorDEPOT: demo1's names -> demo2's (checked on the data: each point's median position along and across the
# tail base -> nose axis agrees within 0.1 body length); demo2's LED is a head-mounted light, not a body point
BEHAVIORDEPOT_RENAME = ['Nose=nose', 'Left Ear=l_ear', 'Right Ear=r_ear', 'Mid-Back=midback', 'Left Leg=l_hip',
                        'Right Leg=r_hip', 'Tailbase=tailbase', 'Tail=midtail']
BEHAVIORDEPOT_BODYPARTS = ['nose', 'l_ear', 'r_ear', 'midback', 'l_hip', 'r_hip', 'tailbase', 'midtail']
STURMAN_BODYPARTS = ['nose', 'headcentre', 'neck', 'earl', 'earr', 'bodycentre', 'bcl', 'bcr', 'hipl', 'hipr',
                     'tailbase', 'tailcentre', 'tailtip']
# A task: its folder, classes and background class, 'fps' (the rate the ST-GCN works at: csv2json --target_fps),
# 'source_fps' (the recordings' own rate where no file states it), 'raters' (truth first), the recordings
# {name: (pose file, labels file)}, --rename and --bodyparts, the graph layout, centre and heading joints.
TASKS: dict[str, dict[str, Any]] = {
    'behaviordepot': {
        'folder': 'behaviordepot', 'classes': ['other', 'freezing'], 'background': 'other', 'fps': 25.0,
        'recordings': {'demo1': ('demo1_tracking.csv', 'demo1_boris_export.csv'),
                       'demo2': ('demo2_tracking.csv', 'demo2_boris_export.csv')},
        'rename': BEHAVIORDEPOT_RENAME, 'bodyparts': BEHAVIORDEPOT_BODYPARTS,
        'layout': {'num_node': 8, 'names': BEHAVIORDEPOT_BODYPARTS, 'center': 'midback',
                   'edges': [['nose', 'l_ear'], ['nose', 'r_ear'], ['l_ear', 'midback'], ['r_ear', 'midback'],
                             ['midback', 'l_hip'], ['midback', 'r_hip'], ['midback', 'tailbase'],
                             ['l_hip', 'tailbase'], ['r_hip', 'tailbase'], ['tailbase', 'midtail']]},
        'center': 'midback', 'heading': ['tailbase', 'midback'],
    },
    'sturman': {
        'folder': 'sturman_oft', 'classes': ['other', 'Supported', 'Unsupported', 'Grooming'], 'background': 'other',
        'fps': 25.0, 'source_fps': 25.0, 'raters': ['Jin', 'Furkan', 'Oliver'],
        'recordings': {'8_01': ('8_01_A_190507134142DeepCut_resnet50_Blockcourse1May9shuffle1_1030000.csv',
                                '8_01_A_190507134142.csv'),
                       '12_01': ('12_01_A_190507144429DeepCut_resnet50_Blockcourse1May9shuffle1_1030000.csv',
                                 '12_01_A_190507144429.csv')},
        'rename': [], 'bodyparts': STURMAN_BODYPARTS, 'arena_corners': ['tl', 'tr', 'br', 'bl'],
        'arena_centre': 'centre',
        'layout': {'num_node': 13, 'names': STURMAN_BODYPARTS, 'center': 'bodycentre',
                   'edges': [['nose', 'headcentre'], ['headcentre', 'earl'], ['headcentre', 'earr'],
                             ['headcentre', 'neck'], ['earl', 'neck'], ['earr', 'neck'], ['neck', 'bodycentre'],
                             ['bodycentre', 'bcl'], ['bodycentre', 'bcr'], ['bcl', 'hipl'], ['bcr', 'hipr'],
                             ['bodycentre', 'tailbase'], ['hipl', 'tailbase'], ['hipr', 'tailbase'],
                             ['tailbase', 'tailcentre'], ['tailcentre', 'tailtip']]},
        'center': 'bodycentre', 'heading': ['tailbase', 'neck'],
    },
}
# the ST-GCN settings (the same for both datasets; chosen on these recordings in a first round of experiments,
# see docs/real-data.md)
STGCN = {
    'clip_s': 2.56, 'stride_s': 0.32, 'epochs': 12, 'batch_size': 16, 'base_lr': 0.001, 'optimizer': 'Adam',
    'normalize': 'egocentric_clip', 'channels': ['xy_score', 'velocity'], 'random_rotate': 15, 'random_scale': 0.1,
    'dropout': 0.5, 'head_layers': 6, 'head_stages': 2, 'smooth_loss': 0.15,
}


# ------------------------------------------------------------------ data and truth
def recording_paths(task: dict[str, Any], folder: str, name: str) -> tuple[str, str]:
    pose, labels = task['recordings'][name]
    return os.path.join(folder, pose), os.path.join(folder, labels)


def truth_of(task: dict[str, Any], folder: str, name: str, num_frames: int, rater: str | None = None) -> np.ndarray:
    """(T,) class indices of a recording's labels (feeder.annotations: the reader the pipeline uses), -1 where no
    class applies."""
    _, labels_path = recording_paths(task, folder, name)
    (annotation,) = annotations.read_annotations(labels_path, fps=task.get('source_fps'),
                                                 rater=rater or task.get('raters', [None])[0])
    labels, _ = annotations.frame_labels(annotation, num_frames, task['classes'], task['background'])
    return labels


# ------------------------------------------------------------------ the hand-feature baseline
def gbm_features(task: dict[str, Any], folder: str, name: str) -> tuple[np.ndarray, list[str], float]:
    """(features (T, F), names, fps) of a recording at its own frame rate."""
    pose_path, labels_path = recording_paths(task, folder, name)
    rename = dlc_io.parse_rename(task['rename'])
    keep = task['bodyparts'] + task.get('arena_corners', []) + ([task['arena_centre']] if 'arena_centre' in task
                                                                else [])
    rec = dlc_io.select_bodyparts(dlc_io.read_pose_file(pose_path), keep, rename)
    fps = task.get('source_fps') or annotations.read_annotations(labels_path)[0].fps
    kwargs = ({'arena_corners': task['arena_corners'], 'arena_centre': task['arena_centre']}
              if 'arena_corners' in task else {})
    features, names = hf.hand_features(rec.xy, rec.score, fps, bodyparts=rec.bodyparts, windows_s=GBM_WINDOWS_S,
                                       **kwargs)
    return features, names, fps


def run_gbm(task: dict[str, Any], folder: str, train: str, test: str, seed: int, smooth: bool
            ) -> dict[str, dict[str, Any]]:
    """The baseline's two feature sets, raw (and smoothed), scored on the test recording."""
    a_features, names, _ = gbm_features(task, folder, train)
    b_features, _, b_fps = gbm_features(task, folder, test)
    a_truth = truth_of(task, folder, train, len(a_features))
    b_truth = truth_of(task, folder, test, len(b_features))
    sets = {'gbm all features': np.arange(len(names)),
            'gbm no per-frame speeds': np.array([k for k, n in enumerate(names) if n.split('.')[0] != 'speed'])}
    out = {}
    for label, columns in sets.items():
        model = hf.fit_baseline([a_features[:, columns]], [a_truth], seed=seed, num_class=len(task['classes']))
        probs = hf.predict_baseline(model, b_features[:, columns])  # (T, K)
        out[label] = evaluation.evaluate(b_truth, probs.argmax(1), task['classes'])
        if smooth:
            smoothed = hf.smooth_probs(probs, b_fps, GBM_SMOOTH_S).argmax(1)
            out[f'{label} (smoothed)'] = evaluation.evaluate(b_truth, smoothed, task['classes'])
    return out


# ------------------------------------------------------------------ ST-GCN through the pipeline
def _quiet(function, argv: list[str]) -> int:
    """Run a tool's main() with its printing kept out of the benchmark's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        return function(argv)


def stgcn_nodes(task: dict[str, Any]) -> tuple[list[str], Any]:
    """(bodyparts, layout) of the ST-GCN input: the animal's points, and with the setting ``landmarks`` the
    arena's corners too (where the pose files track them), as nodes joined to the centre joint and to each other,
    so that the network sees where the walls are from the animal."""
    corners = task.get('arena_corners', []) if STGCN.get('landmarks') else []
    if not corners:
        return list(task['bodyparts']), task['layout']
    layout = dict(task['layout'])
    layout['names'] = list(layout['names']) + list(corners)
    layout['num_node'] = len(layout['names'])
    layout['edges'] = (list(layout['edges']) + [[task['center'], c] for c in corners] +
                       [[a, b] for a, b in zip(corners, corners[1:] + corners[:1])])
    return list(task['bodyparts']) + list(corners), layout


def make_clips(task: dict[str, Any], folder: str, work: str, cut: str) -> str:
    """csv2json of both recordings with their labels: the JSON clips folder."""
    from tools import csv2json
    bodyparts, _ = stgcn_nodes(task)
    out = os.path.join(work, f'json_{cut}' + ('_landmarks' if len(bodyparts) > len(task['bodyparts']) else ''))
    if os.path.isdir(out):
        return out
    poses = [recording_paths(task, folder, name)[0] for name in task['recordings']]
    labels = [recording_paths(task, folder, name)[1] for name in task['recordings']]
    argv = ['--input', *poses, '--annotations', *labels, '--output', out, '--classes', *task['classes'],
            '--target_fps', str(task['fps']), '--bodyparts', *bodyparts,
            '--clip_len', f'{STGCN["clip_s"]}s', '--stride', f'{STGCN["stride_s"]}s', '--cut', cut,
            '--log_level', 'ERROR']
    if task['background']:
        argv += ['--background', task['background']]
    if task['rename']:
        argv += ['--rename', *task['rename']]
    if task.get('source_fps'):
        argv += ['--fps', str(task['source_fps'])]
    if 'raters' in task:
        argv += ['--rater', task['raters'][0]]
    if _quiet(csv2json.main, argv) != 0:
        raise RuntimeError(f'csv2json failed for {folder}')
    return out


def train_config(task: dict[str, Any], dataset: str, dense: bool, clip_len: int) -> dict[str, Any]:
    """The training config a user would write for this dataset (a copy of config/st_gcn/rat/train.yaml's layout)."""
    _, layout = stgcn_nodes(task)
    transform = {'normalize': STGCN['normalize'], 'center_joint': task['center'], 'heading_joints': task['heading'],
                 'layout': layout, 'channels': STGCN['channels']}
    in_channels = 3 + 2 * ('velocity' in STGCN['channels']) + 2 * ('bone' in STGCN['channels'])
    model_args = {'in_channels': in_channels, 'num_class': len(task['classes']), 'dropout': STGCN['dropout'],
                  'graph_args': {'layout': layout, 'strategy': 'spatial'}}
    if dense:
        model_args.update(head_layers=STGCN['head_layers'], head_stages=STGCN['head_stages'])
    return {
        'feeder': 'feeder.feeder.Feeder',
        'train_feeder_args': {'data_path': f'{dataset}/train_data.npy', 'label_path': f'{dataset}/train_label.pkl',
                              'random_rotate': STGCN['random_rotate'], 'random_scale': STGCN['random_scale'],
                              'random_noise': STGCN.get('random_noise', 0.0), **transform},
        'test_feeder_args': {'data_path': f'{dataset}/val_data.npy', 'label_path': f'{dataset}/val_label.pkl',
                             **transform},
        'model': 'net.st_gcn_dense.Model' if dense else 'net.st_gcn.Model', 'model_args': model_args,
        'optimizer': STGCN['optimizer'], 'base_lr': STGCN['base_lr'], 'lr_schedule': 'cosine',
        'num_epoch': STGCN['epochs'], 'batch_size': STGCN['batch_size'], 'test_batch_size': 64, 'num_worker': 0,
        'eval_interval': STGCN['epochs'], 'save_interval': STGCN['epochs'], 'log_interval': 10 ** 6,
        'smooth_loss': STGCN['smooth_loss'], 'show_topk': [1], 'class_weight': STGCN.get('class_weight', 'none'),
    }


def run_stgcn(task: dict[str, Any], folder: str, work: str, method: str, train: str, test: str, seed: int,
              smooth: bool) -> dict[str, dict[str, Any]]:
    """Train on one recording, label the other with demo --annotations; its evaluation.json scores."""
    import main as main_module
    from tools import gen_trainDataset, kinetics_gendata
    dense = method == 'dense'
    clips = make_clips(task, folder, work, 'anywhere' if dense else 'bouts')
    pose_test, labels_test = recording_paths(task, folder, test)
    test_name = os.path.splitext(os.path.basename(pose_test))[0]
    tag = '_landmarks' if clips.endswith('_landmarks') else ''
    dataset = os.path.join(work, f'{method}_{train}{tag}')
    clip_len = int(round(STGCN['clip_s'] * task['fps']))
    if not os.path.isfile(os.path.join(dataset, 'val_data.npy')):
        _quiet(gen_trainDataset.main, ['--input', clips, '--output', dataset, '--val_recordings', test_name,
                                       '--force', '--log_level', 'ERROR'])
        _quiet(kinetics_gendata.main, ['--data_path', dataset, '--out_folder', dataset, '--max_frame', str(clip_len),
                                       '--num_person_out', '1', '--num_workers', '1'])
    run = os.path.join(work, f'{method}_{train}{tag}_seed{seed}')
    config = os.path.join(run, 'train.yaml')
    os.makedirs(run, exist_ok=True)
    with open(config, 'w') as handle:
        yaml.safe_dump(train_config(task, dataset, dense, clip_len), handle)
    weights = os.path.join(run, 'train', f'epoch{STGCN["epochs"]}_model.pt')
    if not os.path.isfile(weights):
        code = main_module.main(['recognition', '-c', config, '-w', os.path.join(run, 'train'), '--seed', str(seed),
                                 '--print_log', 'false'])
        if code != 0:
            raise RuntimeError(f'training failed: {run}')
    out = {}
    for smoothing in ('none', 'median', 'hmm') if smooth else ('none',):
        demo = os.path.join(run, f'demo_{smoothing}')
        argv = ['demo', '--weights', weights, '--input', pose_test, '--annotations', labels_test, '-w', demo,
                '--smooth', smoothing, '--print_log', 'false']
        if task.get('source_fps'):
            argv += ['--fps', str(task['source_fps'])]
        if 'raters' in task:
            argv += ['--rater', task['raters'][0]]
        if main_module.main(argv) != 0:
            raise RuntimeError(f'demo failed: {demo}')
        with open(os.path.join(demo, test_name, 'evaluation.json')) as handle:
            result = json.load(handle)
        out[f'st-gcn {method}' + ('' if smoothing == 'none' else f' ({smoothing})')] = result
    return out


def run_human(task: dict[str, Any], folder: str, name: str) -> dict[str, dict[str, Any]]:
    """Each other rater scored against the truth rater on one recording."""
    pose_path, _ = recording_paths(task, folder, name)
    num_frames = dlc_io.read_pose_file(pose_path).num_frames
    truth = truth_of(task, folder, name, num_frames, task['raters'][0])
    background = task['classes'].index(task['background'])
    out = {}
    for rater in task['raters'][1:]:
        labels = truth_of(task, folder, name, num_frames, rater)
        out[f'human {rater}'] = evaluation.evaluate(truth, np.where(labels < 0, background, labels), task['classes'])
    return out


# ------------------------------------------------------------------ the run and its table
HEADLINE = ('macro_f1', 'accuracy', 'bout_f1')


def recording_fps(task: dict[str, Any], folder: str, name: str) -> float:
    """A recording's own frame rate (BehaviorDEPOT: its BORIS export's FPS column), in which it is scored."""
    return task.get('source_fps') or annotations.read_annotations(recording_paths(task, folder, name)[1])[0].fps


def recording_jitter(task: dict[str, Any], folder: str, name: str) -> float:
    """``hand_features.tracking_jitter`` of a recording's body points: why per-frame speeds may not carry over."""
    rec = dlc_io.select_bodyparts(dlc_io.read_pose_file(recording_paths(task, folder, name)[0]), task['bodyparts'],
                                  dlc_io.parse_rename(task['rename']))
    return hf.tracking_jitter(rec.xy, rec.score, rec.bodyparts)


def summarise(runs: list[dict[str, Any]], classes: Sequence[str], fps: float) -> dict[str, Any]:
    """Mean, min and max over seeds of the headline figures, of the boundary error in seconds (``fps``: the
    test recording's) and of each class's frame F1."""
    def stats(values):
        values = [v for v in values if v is not None]
        return None if not values else {'mean': float(np.mean(values)), 'min': float(np.min(values)),
                                        'max': float(np.max(values))}
    summary = {key: stats([r[key] for r in runs]) for key in HEADLINE}
    summary['boundary_error_s'] = stats([None if r['boundary_error'] is None else r['boundary_error'] / fps
                                         for r in runs])
    def f1(result, name):  # None for a class neither in the truth nor predicted (not in the macro F1 either)
        row = next(p for p in result['per_class'] if p['class'] == name)
        return None if row['support'] == 0 and row['bouts_predicted'] == 0 else row['f1']
    summary['per_class_f1'] = {c: stats([f1(r, c) for r in runs]) for c in classes}
    summary['seeds'] = len(runs)
    return summary


def run(tasks: Sequence[str], methods: Sequence[str], seeds: Sequence[int], data: str, work: str,
        smooth: bool) -> dict[str, Any]:
    results: dict[str, Any] = {'settings': {'stgcn': STGCN, 'gbm_settings': hf.GBM_SETTINGS, 'seeds': list(seeds),
                                            'gbm_windows_s': GBM_WINDOWS_S, 'gbm_smooth_s': GBM_SMOOTH_S},
                               'tasks': {}, 'skipped': []}
    for name in tasks:
        task = TASKS[name]
        folder = os.path.join(data, task['folder'])
        if not os.path.isdir(folder):
            logger.warning('%s: %s not found, skipped', name, folder)
            results['skipped'].append(name)
            continue
        task_work = os.path.join(work, name)
        entry: dict[str, Any] = {'classes': task['classes'], 'directions': {},
                                 'jitter_body_lengths': {rec: recording_jitter(task, folder, rec)
                                                         for rec in task['recordings']}}
        for train, test in itertools.permutations(task['recordings'], 2):
            per_method: dict[str, list[dict[str, Any]]] = {}
            for seed in seeds:
                for method in methods:
                    started = time.perf_counter()
                    scores = (run_gbm(task, folder, train, test, seed, smooth) if method == 'gbm' else
                              run_stgcn(task, folder, task_work, method, train, test, seed, smooth))
                    for label, result in scores.items():
                        per_method.setdefault(label, []).append(result)
                        logger.info('%s %s->%s seed %d %s: %s (%.0f s)', name, train, test, seed, label,
                                    evaluation.summary_line('', result), time.perf_counter() - started)
            if 'raters' in task:
                for label, result in run_human(task, folder, test).items():
                    per_method[label] = [result]
            fps = recording_fps(task, folder, test)
            entry['directions'][f'{train}->{test}'] = {
                label: {'summary': summarise(values, task['classes'], fps), 'runs': values}
                for label, values in per_method.items()}
        results['tasks'][name] = entry
    return results


def _cell(stats: dict[str, float] | None, spread: bool, digits: int = 3) -> str:
    if stats is None:
        return '-'
    return f'{stats["mean"]:.{digits}f}' + (f' [{stats["min"]:.2f}-{stats["max"]:.2f}]' if spread and
                                     stats['max'] > stats['min'] else '')


def table(results: dict[str, Any]) -> str:
    """A markdown table per dataset: macro F1 (mean [min-max] over seeds), accuracy, bout F1, boundary error
    (seconds), per-class F1."""
    lines = []
    for name, entry in results['tasks'].items():
        classes = entry['classes']
        lines += ['', f'**{name}**', '',
                  '| train -> test | method | macro F1 | accuracy | bout F1 | boundary error (s) | ' + ' | '.join(
                      f'F1 {c}' for c in classes) + ' |',
                  '|---|---|---|---|---|---|' + '---|' * len(classes)]
        for direction, methods in entry['directions'].items():
            for label, value in methods.items():
                s = value['summary']
                lines.append(f'| {direction} | {label} | {_cell(s["macro_f1"], True)} | {_cell(s["accuracy"], False)} '
                             f'| {_cell(s["bout_f1"], False)} | {_cell(s["boundary_error_s"], False, 2)} | ' +
                             ' | '.join(_cell(s['per_class_f1'][c], False) for c in classes) + ' |')
        if entry.get('jitter_body_lengths'):
            lines += ['', 'Tracking jitter (body lengths): ' + ', '.join(
                f'{rec} {value:.4f}' for rec, value in entry['jitter_body_lengths'].items())]
    return '\n'.join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default=DEFAULT_DATA, help='folder with behaviordepot/ and sturman_oft/')
    parser.add_argument('--tasks', nargs='+', default=list(TASKS), choices=list(TASKS), help='datasets to run')
    parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS, help='methods to run')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='training seeds')
    parser.add_argument('--smooth', action='store_true',
                        help='also score the smoothed labels (demo --smooth median and hmm; the baseline\'s '
                             'running mean)')
    parser.add_argument('--epochs', type=int, default=STGCN['epochs'], help='ST-GCN training epochs')
    parser.add_argument('--stgcn', nargs='+', action=DictAction, default={}, metavar='KEY=VALUE',
                        help='other ST-GCN settings to change (keys of STGCN, e.g. random_noise=0.02), for experiments')
    parser.add_argument('--work', default=DEFAULT_WORK, help='folder for the clips, datasets and runs (reused)')
    parser.add_argument('--fresh', action='store_true', help='remove --work first')
    parser.add_argument('--out', default=DEFAULT_OUT, help='JSON file for the results')
    parser.add_argument('--table', metavar='JSON', default=None,
                        help='print the tables of a results file written earlier (summarised anew) and stop')
    return parser.parse_args(argv)


def resummarise(results: dict[str, Any], data: str) -> dict[str, Any]:
    """The summaries of a results file recomputed from its runs (files written before a figure was added)."""
    for name, entry in results['tasks'].items():
        task = TASKS[name]
        for direction, methods in entry['directions'].items():
            fps = recording_fps(task, os.path.join(data, task['folder']), direction.split('->')[1])
            for value in methods.values():
                value['summary'] = summarise(value['runs'], entry['classes'], fps)
    return results


def quiet_logging() -> None:
    """A benchmark's own lines with their times; the pipeline's commands only warn."""
    logging.basicConfig(level=logging.INFO, format='[%(asctime)s] %(message)s', datefmt='%H:%M:%S')
    for noisy in ('st-gcn', 'feeder', 'processor', 'csv2json', 'kinetics_gendata', 'gen_trainDataset', 'net'):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.table:
        with open(args.table, encoding='utf-8') as handle:
            results = resummarise(json.load(handle), args.data)
        for name, entry in results['tasks'].items():
            if 'jitter_body_lengths' not in entry:
                task = TASKS[name]
                entry['jitter_body_lengths'] = {rec: recording_jitter(task, os.path.join(args.data, task['folder']),
                                                                      rec) for rec in task['recordings']}
        print(table(results))
        return 0
    quiet_logging()
    if args.fresh:
        shutil.rmtree(args.work, ignore_errors=True)
    STGCN['epochs'] = args.epochs
    optional = ('random_noise', 'landmarks', 'class_weight')
    unknown = sorted(set(args.stgcn) - set(STGCN) - set(optional))
    if unknown:
        raise ValueError(f'--stgcn {unknown[0]}: not a setting; the settings are {", ".join((*STGCN, *optional))}')
    STGCN.update(args.stgcn)
    started = time.perf_counter()
    results = run(args.tasks, args.methods, args.seeds, args.data, args.work, args.smooth)
    results['total_seconds'] = time.perf_counter() - started
    with atomic_write(os.path.abspath(args.out), 'w') as handle:
        json.dump(results, handle, indent=1)
    print(table(results))
    print(f'\n{results["total_seconds"]:.0f} s; wrote {args.out}')
    return 0


if __name__ == '__main__':
    run_cli(main)
