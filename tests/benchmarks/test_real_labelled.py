"""benchmarks/real_labelled.py: the truth it scores against (real files, skipped when absent) and its tables."""
import os
import sys

import numpy as np
import pytest

from conftest import ROOT, SHARED

sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
import real_labelled as rl  # noqa: E402

DATA = os.path.join(SHARED, 'real-labelled')


@pytest.mark.skipif(not os.path.isdir(os.path.join(DATA, 'behaviordepot')), reason='../shared/real-labelled absent')
def test_the_behaviordepot_truth_is_the_per_frame_annotation():
    """The BORIS-layout export read by the pipeline's reader gives the same frames as the per-frame file."""
    task, folder = rl.TASKS['behaviordepot'], os.path.join(DATA, 'behaviordepot')
    for name, frames, fps in (('demo1', 6000, 50.0), ('demo2', 3600, 30.0)):
        truth = rl.truth_of(task, folder, name, frames)
        table = np.loadtxt(os.path.join(folder, f'{name}_freezing_per_frame.csv'), delimiter=',', skiprows=1,
                           dtype=int)
        per_frame = np.zeros(frames, int)
        per_frame[table[:, 0]] = table[:, 1]
        np.testing.assert_array_equal(truth, per_frame)    # BORIS's seconds map back onto the same frames
        assert rl.recording_fps(task, folder, name) == fps
    assert rl.recording_jitter(task, folder, 'demo2') > 2 * rl.recording_jitter(task, folder, 'demo1')


@pytest.mark.skipif(not os.path.isdir(os.path.join(DATA, 'sturman_oft')), reason='../shared/real-labelled absent')
def test_the_sturman_truth_is_one_raters_bouts_inside_the_excerpt():
    task, folder = rl.TASKS['sturman'], os.path.join(DATA, 'sturman_oft')
    truth = rl.truth_of(task, folder, '8_01', 1998)
    counts = np.bincount(truth[truth >= 0], minlength=4)
    assert counts[1] > 300 and counts[2] > 100 and counts[3] == 0    # Supported, Unsupported, no grooming
    assert (truth < 0).sum() < 100                                     # before the rater's Start only
    humans = rl.run_human(task, folder, '8_01')
    assert set(humans) == {'human Furkan', 'human Oliver'}
    assert all(0.8 < result['macro_f1'] < 1 for result in humans.values())


def _result(macro, boundary):
    return {'macro_f1': macro, 'accuracy': macro, 'bout_f1': 0.5, 'boundary_error': boundary,
            'per_class': [{'class': 'a', 'f1': macro, 'support': 9, 'bouts_predicted': 1},
                          {'class': 'b', 'f1': 0.0, 'support': 0, 'bouts_predicted': 0}]}


def test_the_summary_spans_the_seeds_and_gives_boundaries_in_seconds():
    runs = [_result(0.6, 10.0), _result(0.8, None), _result(0.7, 20.0)]
    summary = rl.summarise(runs, ['a', 'b'], fps=25.0)
    assert summary['macro_f1'] == pytest.approx({'mean': 0.7, 'min': 0.6, 'max': 0.8})
    assert summary['boundary_error_s'] == pytest.approx({'mean': 0.6, 'min': 0.4, 'max': 0.8})
    assert summary['per_class_f1']['b'] is None and summary['seeds'] == 3
    results = {'tasks': {'sturman': {'classes': ['a', 'b'], 'directions': {'8_01->12_01': {
        'st-gcn dense': {'summary': {}, 'runs': runs}}}, 'jitter_body_lengths': {'8_01': 0.01}}}}
    text = rl.table(rl.resummarise(results, DATA))
    assert '| 8_01->12_01 | st-gcn dense | 0.700 [0.60-0.80] | 0.700 | 0.500 | 0.60 | 0.700 | - |' in text
    assert 'Tracking jitter (body lengths): 8_01 0.0100' in text
