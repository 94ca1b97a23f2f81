"""processor.evaluation: frame and bout scores against human labels, pooling, smoothing, and the files."""
import csv
import itertools
import json
import os

import numpy as np
import pytest

from processor import evaluation

PNG = b'\x89PNG\r\n\x1a\n'
NAMES = ['rest', 'groom', 'rear']


def _labels(*runs):
    """[(label, length), ...] -> (T,) int64."""
    return np.concatenate([np.full(length, label, dtype=np.int64) for label, length in runs])


def _plain(value):
    """True when ``value`` is made only of dict, list, str, int, float, bool and None (what json writes)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_perfect_prediction():
    true = _labels((0, 5), (1, 3), (2, 4), (0, 2))
    result = evaluation.evaluate(true, true.copy(), NAMES)
    assert result['macro_f1'] == result['accuracy'] == result['bout_f1'] == result['bout_macro_f1'] == 1.0
    assert result['boundary_error'] == 0.0
    assert (result['frames_scored'], result['frames_excluded']) == (14, 0)
    assert (result['bouts_true'], result['bouts_predicted'], result['bouts_matched']) == (4, 4, 4)
    assert result['confusion'] == [[7, 0, 0], [0, 3, 0], [0, 0, 4]]
    assert [row['support'] for row in result['per_class']] == [7, 3, 4]
    assert all(row[key] == 1.0 for row in result['per_class']
               for key in ('precision', 'recall', 'f1', 'bout_precision', 'bout_recall', 'bout_f1'))
    assert _plain(result)
    json.dumps(result, allow_nan=False)


def _shifted(shift):
    """200 frames: rest, a 30-frame groom bout at 100, rest; the prediction's bout starts ``shift`` frames late."""
    true = _labels((0, 100), (1, 30), (0, 70))
    pred = _labels((0, 100 + shift), (1, 30), (0, 70 - shift))
    return true, pred


def test_shifted_bout_matches_at_iou_half_and_not_below():
    result = evaluation.evaluate(*_shifted(10), NAMES)  # groom IoU 20/40 = 0.5 exactly: a match (>=)
    groom = result['per_class'][1]
    assert (groom['bouts_true'], groom['bouts_predicted'], groom['bouts_matched']) == (1, 1, 1)
    assert result['bout_f1'] == 1.0 and result['bouts_matched'] == 3  # both rest bouts overlap enough too
    # offsets: rest 0 and 10, groom 10 and 10, rest 10 and 0: 40 over 3 matches x 2 ends
    assert result['boundary_error'] == pytest.approx(40 / 6)
    assert groom['precision'] == groom['recall'] == groom['f1'] == pytest.approx(20 / 30)
    assert result['per_class'][0]['f1'] == pytest.approx(160 / 170)
    assert result['accuracy'] == pytest.approx(180 / 200)
    assert result['macro_f1'] == pytest.approx((160 / 170 + 20 / 30) / 2)  # 'rear' is in neither: left out
    assert evaluation.summary_line('rec1', result) == \
        'rec1: macro F1 0.804, accuracy 0.900, bout F1 1.00 (200 frames scored, 0 excluded)'

    result = evaluation.evaluate(*_shifted(11), NAMES)  # groom IoU 19/41 = 0.463
    groom = result['per_class'][1]
    assert groom['bouts_matched'] == 0 and groom['bout_f1'] == groom['bout_precision'] == groom['bout_recall'] == 0
    assert result['bouts_matched'] == 2 and result['bout_f1'] == pytest.approx(4 / 6)
    assert result['bout_macro_f1'] == pytest.approx(0.5)  # rest 1.0, groom 0.0; rear has no bout
    assert result['boundary_error'] == pytest.approx((11 + 11) / 4)
    assert evaluation.evaluate(*_shifted(11), NAMES, iou=0.45)['bouts_matched'] == 3


def test_split_bout_matches_neither_half():
    true = _labels((0, 20), (1, 20), (0, 20))
    pred = _labels((0, 20), (1, 9), (0, 2), (1, 9), (0, 20))  # each half: IoU 9/20 = 0.45
    result = evaluation.evaluate(true, pred, NAMES)
    assert result['accuracy'] == pytest.approx(58 / 60)  # the frames look nearly perfect
    assert result['per_class'][1]['bouts_matched'] == 0 and result['per_class'][1]['bouts_predicted'] == 2
    assert (result['bouts_true'], result['bouts_predicted'], result['bouts_matched']) == (3, 5, 2)
    assert result['bout_precision'] == pytest.approx(2 / 5) and result['bout_recall'] == pytest.approx(2 / 3)
    assert result['bout_f1'] == pytest.approx(0.5)
    # below the halves' IoU one of them matches, one to one: the tie goes to the earlier predicted bout
    loose = evaluation.bout_scores(true, pred, 3, iou=0.4)
    assert loose['per_class'][1]['bouts_matched'] == 1
    assert loose['boundary_offset_sum'] == 0 + 0 + (0 + 11)  # rest bouts exact; groom [20, 29) against [20, 40)


def test_matching_is_greedy_by_highest_iou():
    true = _labels((0, 10), (1, 1), (0, 10))  # rest bouts [0, 10) and [11, 21)
    pred = _labels((1, 7), (0, 12), (1, 2))  # one rest bout [7, 19): IoU 3/19 with the first, 8/14 with the second
    result = evaluation.bout_scores(true, pred, 3, iou=0.15)
    assert result['per_class'][0]['bouts_matched'] == 1
    assert result['boundary_error'] == pytest.approx((4 + 2) / 2)  # matched the second: starts 11/7, ends 21/19


def test_excluded_frames_are_counted_and_not_scored():
    true = _labels((0, 3), (-1, 2), (0, 3), (1, 4), (-1, 3))
    pred = _labels((0, 5), (0, 3), (1, 4), (0, 3))
    result = evaluation.evaluate(true, pred, NAMES)
    assert (result['frames_scored'], result['frames_excluded']) == (10, 5)
    assert result['accuracy'] == 1.0 and result['macro_f1'] == 1.0
    assert sum(row['support'] for row in result['per_class']) == 10
    # the gap ends both tracks' runs: two rest bouts each side, no false alarm from the last three frames
    assert (result['bouts_true'], result['bouts_predicted'], result['bouts_matched']) == (3, 3, 3)
    other = pred.copy()
    other[true == -1] = [2, 1, 2, 2, -1]  # whatever is predicted on excluded frames does not count
    assert evaluation.evaluate(true, other, NAMES) == result

    nothing = evaluation.evaluate(np.full(4, -1), np.zeros(4, dtype=np.int64), NAMES)
    assert nothing['macro_f1'] is nothing['accuracy'] is nothing['bout_f1'] is nothing['boundary_error'] is None
    assert evaluation.summary_line('', nothing) == \
        'macro F1 n/a, accuracy n/a, bout F1 n/a (0 frames scored, 4 excluded)'


def test_macro_f1_leaves_out_classes_in_neither_track():
    true = _labels((0, 4), (1, 4))
    pred = _labels((0, 4), (2, 4))  # groom never predicted, rear never labelled: both count 0
    result = evaluation.frame_scores(true, pred, NAMES)
    assert result['macro_f1'] == pytest.approx(1 / 3)
    assert evaluation.frame_scores(true[:4], pred[:4], NAMES)['macro_f1'] == 1.0  # not 1/3: groom, rear absent


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match=r'pred must hold class indices in \[0, 3\) on every scored frame, '
                                         r'got values from -1 to 0'):
        evaluation.evaluate([0, 0, 1], [0, -1, 0], NAMES)
    with pytest.raises(ValueError, match=r'true must hold class indices in \[0, 3\) or -1 \(excluded\), '
                                         r'got values from 0 to 3'):
        evaluation.evaluate([0, 3], [0, 0], NAMES)
    with pytest.raises(ValueError, match=r'one label per frame each, got 3 and 2 frames'):
        evaluation.frame_scores([0, 0, 1], [0, 0], NAMES)
    with pytest.raises(ValueError, match=r'pred must hold integer class indices, got dtype float64'):
        evaluation.evaluate([0, 1], [0.0, 1.0], NAMES)
    with pytest.raises(ValueError, match=r'iou must be in \(0, 1\], got 0'):
        evaluation.bout_scores([0], [0], 3, iou=0)


def _two_recordings():
    a = (_labels((0, 8), (1, 2)), _labels((0, 10)))
    b = (_labels((0, 2), (1, 8)), _labels((1, 10)))
    return a, b


def test_pooling_is_the_concatenation_not_the_mean():
    a, b = _two_recordings()
    names = NAMES[:2]
    results = [evaluation.evaluate(*a, names), evaluation.evaluate(*b, names)]
    assert results[0]['macro_f1'] == results[1]['macro_f1'] == pytest.approx(4 / 9)  # F1 8/9 and 0 in each
    pooled = evaluation.pool(results)
    assert pooled['macro_f1'] == pytest.approx(0.8)  # confusion [[8, 2], [2, 8]]
    assert pooled['macro_f1'] != pytest.approx(np.mean([r['macro_f1'] for r in results]))
    # the recordings' last and first labels differ in both tracks, so concatenating them merges no bout
    concatenated = evaluation.evaluate(np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]]), names)
    assert pooled == concatenated
    assert pooled['bout_f1'] == pytest.approx(4 / 6) and pooled['confusion'] == [[8, 2], [2, 8]]

    many = evaluation.evaluate_many([('a', *a), ('b', *b)], names)
    assert list(many['recordings']) == ['a', 'b'] and many['recordings']['a'] == results[0]
    assert many['pooled'] == pooled and _plain(many)
    with pytest.raises(ValueError, match=r"recording name 'a' appears twice"):
        evaluation.evaluate_many([('a', *a), ('a', *b)], names)
    with pytest.raises(ValueError, match=r'^b: true and pred must have one label per frame each'):
        evaluation.evaluate_many([('a', *a), ('b', b[0], b[1][:5])], names)
    with pytest.raises(ValueError, match=r'pool: result 1 matched bouts at iou=0.3, result 0 at iou=0.5'):
        evaluation.pool([results[0], evaluation.evaluate(*b, names, iou=0.3)])


def test_pooled_bouts_never_span_recordings():
    a = (_labels((0, 10)), _labels((0, 10)))
    pooled = evaluation.evaluate_many([('a', *a), ('b', *a)], NAMES)['pooled']
    assert (pooled['bouts_true'], pooled['bouts_matched'], pooled['frames_scored']) == (2, 2, 20)


def _flicker_probs():
    """230 frames of rest with a 2-frame groom flicker at 50, and a real 30-frame groom bout at 100."""
    labels = _labels((0, 50), (1, 2), (0, 48), (1, 30), (0, 100))
    probs = np.full((len(labels), 3), 0.1)
    probs[np.arange(len(labels)), labels] = 0.8
    probs[50:52] = [0.25, 0.7, 0.05]
    expected = _labels((0, 100), (1, 30), (0, 100))
    return probs, expected


def test_hmm_removes_a_flicker_and_keeps_a_real_bout():
    probs, expected = _flicker_probs()
    raw = evaluation.smooth(probs)
    assert raw[50:52].tolist() == [1, 1]  # the flicker is there before smoothing
    np.testing.assert_array_equal(evaluation.smooth(probs, 'hmm', min_bout=10), expected)
    np.testing.assert_array_equal(evaluation.smooth(probs, 'hmm', self_prob=0.9), expected)
    training = [_labels((0, 40), (1, 20), (0, 60)), _labels((1, 10), (2, 30), (0, 20))]
    mean_bout = evaluation.mean_bout_lengths(training, 3)
    np.testing.assert_array_equal(evaluation.smooth(probs, 'hmm', mean_bout=mean_bout, priors=[0.6, 0.25, 0.15]),
                                  expected)
    # min_bout=1: the uniform transition matrix, under which Viterbi is the per-frame argmax
    np.testing.assert_array_equal(evaluation.smooth(probs, 'hmm', min_bout=1), raw)


def test_median_removes_a_flicker_and_keeps_a_real_bout():
    probs, expected = _flicker_probs()
    probs[0] = [0.1, 0.8, 0.1]  # a 1-frame flicker at the first frame: the shortened edge window removes it too
    assert evaluation.smooth(probs)[0] == 1
    np.testing.assert_array_equal(evaluation.smooth(probs, 'median', window=9), expected)
    assert evaluation.smooth(probs, 'median', window=1)[50] == 1  # a 1-frame window changes nothing
    short = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert evaluation.smooth(short, 'median', window=31).tolist() == [0, 0, 0]  # window longer than the recording


def test_viterbi_equals_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        log_emission = np.log(rng.dirichlet(np.ones(2), size=5))  # T=5, K=2
        log_transition = np.log(rng.dirichlet(np.ones(2), size=2))
        log_initial = np.log(rng.dirichlet(np.ones(2)))
        best = max(itertools.product(range(2), repeat=5),
                   key=lambda path: log_initial[path[0]] + sum(log_emission[t, s] for t, s in enumerate(path))
                   + sum(log_transition[a, b] for a, b in zip(path, path[1:])))
        assert evaluation.viterbi(log_emission, log_transition, log_initial).tolist() == list(best)


def test_smooth_hmm_equals_brute_force_with_the_sticky_matrix():
    rng = np.random.default_rng(1)
    transition = evaluation.sticky_transition(0.8, 2)
    for _ in range(10):
        probs = rng.dirichlet(np.ones(2), size=5)
        best = max(itertools.product(range(2), repeat=5),
                   key=lambda path: np.prod(probs[np.arange(5), path]) * np.prod(transition[path[:-1], path[1:]]))
        assert evaluation.smooth(probs, 'hmm', self_prob=0.8).tolist() == list(best)


def test_sticky_transition_and_mean_bout_lengths():
    np.testing.assert_allclose(evaluation.sticky_transition(0.9, 3),
                               [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]])
    np.testing.assert_allclose(evaluation.sticky_transition([0.5, 0.9], 2), [[0.5, 0.5], [0.1, 0.9]])
    # runs: rest 3 | groom 2, (gap), groom 4 | next recording: groom 2, rest 5 (runs never cross recordings)
    lengths = evaluation.mean_bout_lengths([np.array([0, 0, 0, 1, 1, -1, 1, 1, 1, 1]),
                                            np.array([1, 1, 0, 0, 0, 0, 0])], 3)
    assert lengths[:2].tolist() == [4.0, 8 / 3] and np.isnan(lengths[2])
    assert evaluation.mean_bout_lengths(np.array([2, 2, 2]), 3)[2] == 3.0


def test_bad_smoothing_options_are_refused():
    probs, _ = _flicker_probs()
    with pytest.raises(ValueError, match=r"smoothing method must be one of none, median, hmm, got 'mode'"):
        evaluation.smooth(probs, 'mode')
    with pytest.raises(ValueError, match=r"method='median' needs an odd window of at least 1 frame, got window=4"):
        evaluation.smooth(probs, 'median', window=4)
    with pytest.raises(ValueError, match=r"needs exactly one of self_prob, min_bout, mean_bout; got none"):
        evaluation.smooth(probs, 'hmm')
    with pytest.raises(ValueError, match=r"got self_prob, min_bout"):
        evaluation.smooth(probs, 'hmm', self_prob=0.9, min_bout=10)
    with pytest.raises(ValueError, match=r'mean_bout of class 2 is nan: .*use min_bout or self_prob then'):
        evaluation.smooth(probs, 'hmm', mean_bout=[10.0, 5.0, np.nan])
    with pytest.raises(ValueError, match=r'priors must be 3 positive class frequencies'):
        evaluation.smooth(probs, 'hmm', min_bout=10, priors=[0.5, 0.5, 0.0])
    with pytest.raises(ValueError, match=r'probs must be a \(T, K\) array'):
        evaluation.smooth(probs[:, 0])


def _rows(path):
    with open(path, newline='') as handle:
        return list(csv.reader(handle))


def test_write_evaluation_files(tmp_path):
    true, pred = _shifted(11)
    true[:20] = -1
    result = evaluation.evaluate(true, pred, NAMES)
    out = tmp_path / 'eval'
    written = evaluation.write_evaluation(str(out), result, NAMES, true=true, pred=pred, fps=30.0, title='rec1')
    expected = {'evaluation.json', 'evaluation_per_class.csv', 'confusion_matrix.csv', 'confusion_matrix.png',
                'timeline.png'}
    assert sorted(os.listdir(out)) == sorted(expected)  # no staging folder left behind
    assert sorted(os.path.basename(path) for path in written) == sorted(expected)
    with open(out / 'evaluation.json') as handle:
        assert json.load(handle) == {'title': 'rec1', **result}
    per_class = _rows(out / 'evaluation_per_class.csv')
    assert per_class[0] == ['class', 'precision', 'recall', 'f1', 'support', 'bout_precision', 'bout_recall',
                            'bout_f1']
    assert [row[0] for row in per_class[1:]] == NAMES
    assert per_class[2][4] == '30' and float(per_class[2][3]) == pytest.approx(19 / 30, abs=1e-4)
    assert float(per_class[2][7]) == 0.0
    confusion = _rows(out / 'confusion_matrix.csv')
    assert confusion[0] == ['true \\ predicted', *NAMES]
    assert [row[0] for row in confusion[1:]] == NAMES
    assert [[int(v) for v in row[1:]] for row in confusion[1:]] == result['confusion']
    for name in ('confusion_matrix.png', 'timeline.png'):
        assert (out / name).read_bytes().startswith(PNG), name

    hour = np.random.default_rng(0).integers(-1, 3, size=108_000)  # an hour at 30 fps draws as one line a track
    evaluation.write_evaluation(str(tmp_path / 'hour'), evaluation.evaluate(hour, np.maximum(hour, 0), NAMES),
                                NAMES, true=hour, pred=np.maximum(hour, 0), fps=30.0)
    assert (tmp_path / 'hour' / 'timeline.png').read_bytes().startswith(PNG)


def test_write_evaluation_leaves_nothing_behind_on_failure(tmp_path, monkeypatch):
    true, pred = _shifted(10)
    result = evaluation.evaluate(true, pred, NAMES)
    out = tmp_path / 'eval'
    out.mkdir()
    (out / 'evaluation.json').write_text('{"from": "an earlier run"}')

    def broken(*args, **kwargs):
        raise RuntimeError('drawing failed')

    monkeypatch.setattr(evaluation, 'plot_timeline', broken)  # the last file: the others are made by then
    with pytest.raises(RuntimeError, match='drawing failed'):
        evaluation.write_evaluation(str(out), result, NAMES, true=true, pred=pred)
    assert os.listdir(out) == ['evaluation.json']
    assert (out / 'evaluation.json').read_text() == '{"from": "an earlier run"}'

    with pytest.raises(ValueError, match=r"class_names \['a', 'b', 'c'\] differ from the result's"):
        evaluation.write_evaluation(str(tmp_path / 'other'), result, ['a', 'b', 'c'])
    with pytest.raises(ValueError, match=r'give both true and pred'):
        evaluation.write_evaluation(str(tmp_path / 'other'), result, NAMES, true=true)
    assert not (tmp_path / 'other').exists()
