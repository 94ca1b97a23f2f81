"""benchmarks/real_labelled_baseline.py: bout matching, label reading and scoring on small made-up cases."""
import os
import sys

import numpy as np
import pytest

from conftest import ROOT, SHARED

sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
import real_labelled_baseline as rlb  # noqa: E402

CLASSES = ['other', 'Supported', 'Unsupported', 'Grooming']


def test_runs_and_bout_matching_are_one_to_one_at_iou_half():
    truth = np.array([0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1])
    pred = np.array([0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1])
    assert rlb.runs(truth, 1) == [(1, 5), (7, 9), (10, 16)]
    scores = rlb.bout_scores(truth, pred, 1)
    # (1, 3) vs (1, 5): IoU 0.5, matched; (7, 9) exact; (13, 16) vs (10, 16) IoU 0.5, (10, 12) vs it only 0.33
    assert scores == {'f1': pytest.approx(2 * 3 / (3 + 4)), 'true_bouts': 3, 'pred_bouts': 4, 'matched': 3}
    # at IoU >= 0.3 both (10, 12) and (13, 16) qualify for (10, 16), which still takes one of them
    assert rlb.bout_scores(truth, pred, 1, min_iou=0.3)['matched'] == 3
    assert rlb.bout_scores(truth, pred, 3)['f1'] is None
    # frames where the truth is -1 split runs and are ignored
    masked = truth.copy()
    masked[3] = -1
    assert rlb.bout_scores(masked, masked.clip(0), 1)['true_bouts'] == 4


def test_score_averages_the_classes_present_in_the_truth():
    truth = np.array([-1, 0, 0, 1, 1, 0, 2, 2])
    pred = np.array([3, 0, 0, 1, 0, 0, 2, 2])
    s = rlb.score(truth, pred, CLASSES)
    assert s['frames'] == 7 and s['per_class_f1']['Grooming'] is None
    assert s['macro_f1'] == pytest.approx(np.mean([6 / 7, 2 / 3, 1.0]))
    assert s['accuracy'] == pytest.approx(6 / 7)


def test_rater_bouts_to_frames(tmp_path):
    path = tmp_path / 'bouts.csv'
    path.write_text(',file,Experimenter,from,to,type,ID,DLCFile\n'
                    '0,a.csv,A,0.2,0.3,Start/End,x,y\n'
                    '1,a.csv,A,0.4,0.8,Supported,x,y\n'
                    '2,a.csv,A,0.7,1.0,Unsupported,x,y\n'
                    '3,a.csv,A,0.5,0.6,_DEFAULT,x,y\n'
                    '4,a.csv,B,0.0,1.0,Grooming,x,y\n'
                    '5,a.csv,B,0.0,9.0,StartEnd,x,y\n'
                    '6,a.csv,A,1.1,9.0,Start/End,x,y\n')
    labels, info = rlb._read_rater_bouts(str(path), 'A', 10.0, 12, CLASSES)
    # frame f covers f/10 s; a bout [from, to) holds the frames with from <= f/10 < to; the later bout wins overlaps
    assert labels.tolist() == [-1, -1, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0]
    assert info['overlapping_frames'] == 1 and info['ignored_rows'] == 1 and info['observation_s'] == (0.2, 9.0)
    with pytest.raises(ValueError, match="no rows of rater 'C'"):
        rlb._read_rater_bouts(str(path), 'C', 10.0, 12, CLASSES)


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, 'real-labelled', 'sturman_oft')),
                    reason='../shared/real-labelled is not here')
def test_the_real_sturman_labels_read_as_counted_by_hand():
    folder = os.path.join(SHARED, 'real-labelled', 'sturman_oft')
    labels, info = rlb._read_rater_bouts(os.path.join(folder, '8_01_A_190507134142.csv'), 'Jin', 25.0, 1998, CLASSES)
    assert info['observation_s'][0] == pytest.approx(2.461)
    assert np.bincount(labels[labels >= 0], minlength=4).tolist() == [1373, 417, 146, 0]
    assert (labels == -1).sum() == 62  # frames 0-61 come before the observation starts at 2.461 s
