import csv
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

import main as main_module
from conftest import RAT_MODEL_ARGS, ROOT, make_separable_arrays
from processor import ethogram
from tools.make_sample_data import dlc_csv_text

BODYPARTS = ['nose', 'left_ear', 'right_ear', 'neck', 'left_forepaw', 'right_forepaw', 'spine', 'left_hindpaw',
             'right_hindpaw', 'tail_base', 'tail_mid', 'tail_tip']
SEGMENT = 48
ORDER = [2, 0, 3, 1, 2]  # classes of the stitched segments


def stitched_recording(path, individuals=1):
    """A DLC CSV of segments of known classes (the classes of the trained fixture model), 640x480 pixels."""
    arrays, _ = make_separable_arrays(4, 4, SEGMENT, 12, seed=11)  # sample i has class i
    clip = np.concatenate([arrays[k] for k in ORDER], axis=1)  # (3, T, V, 1)
    frames = np.stack([(clip[0, :, :, 0] + 0.5) * 640, (clip[1, :, :, 0] + 0.5) * 480, clip[2, :, :, 0]], -1)
    if individuals == 1:
        text = dlc_csv_text(frames.astype(np.float32), 'DLC_test', BODYPARTS)
    else:  # maDLC: the second animal does the segments in the reverse order
        other = np.concatenate([arrays[k] for k in ORDER[::-1]], axis=1)
        second = np.stack([(other[0, :, :, 0] + 0.5) * 640, (other[1, :, :, 0] + 0.5) * 480, other[2, :, :, 0]], -1)
        header = ['scorer'] + ['DLC_test'] * 72, ['individuals'] + ['a'] * 36 + ['b'] * 36
        header += (['bodyparts'] + [b for _ in range(2) for b in BODYPARTS for _ in range(3)],
                   ['coords'] + ['x', 'y', 'likelihood'] * 24)
        rows = [','.join(h) for h in header]
        both = np.concatenate([frames.reshape(len(frames), -1), second.reshape(len(second), -1)], axis=1)
        rows += [f'{t},' + ','.join(f'{v:.4f}' for v in row) for t, row in enumerate(both)]
        text = '\n'.join(rows) + '\n'
    with open(path, 'w') as handle:
        handle.write(text)
    truth = np.repeat(ORDER, SEGMENT)
    return str(path), truth


def run_demo(tmp_path, trained_rat, recording, *extra):
    names = tmp_path / 'classes.txt'
    names.write_text('a\nb\nc\nd\n')
    work = tmp_path / 'demo'
    argv = ['demo', '-w', str(work), *RAT_MODEL_ARGS, '--weights', trained_rat['weights'], '--input', recording,
            '--window', '16', '--stride', '4', '--width', '640', '--height', '480', '--label_names', str(names),
            *extra]
    assert main_module.main(argv) == 0
    return work / os.path.splitext(os.path.basename(recording))[0]


def read_csv(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_stitched_recording_is_labelled_per_frame(tmp_path, trained_rat):
    recording, truth = stitched_recording(tmp_path / 'session1DLC_test.csv')
    out = run_demo(tmp_path, trained_rat, recording, '--fps', '30')
    rows = read_csv(out / 'ethogram.csv')
    assert list(rows[0]) == ['frame', 'time_s', 'individual', 'label', 'confidence', 'p_a', 'p_b', 'p_c', 'p_d']
    assert len(rows) == len(truth) and rows[30]['time_s'] == '1.000'
    predicted = np.array(['abcd'.index(r['label']) for r in rows])
    accuracy = (predicted == truth).mean()
    assert accuracy >= 0.7, accuracy  # chance is 0.25
    probs = np.array([[float(r[f'p_{c}']) for c in 'abcd'] for r in rows])
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-3)
    bouts = read_csv(out / 'bouts.csv')
    assert list(bouts[0]) == ['individual', 'label', 'start_frame', 'end_frame', 'duration_frames', 'duration_s',
                              'mean_confidence']
    boundaries = [int(b['start_frame']) for b in bouts[1:]]
    for stitch in range(SEGMENT, len(truth), SEGMENT):  # every stitch point has a bout boundary within a window
        assert min(abs(b - stitch) for b in boundaries) <= 16, (stitch, boundaries)
    image = cv2.imread(str(out / 'ethogram.png'))
    assert image is not None and image.shape[1] > 600 and image.std() > 10
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 4


def test_multi_animal_file_gives_a_track_per_individual(tmp_path, trained_rat):
    recording, truth = stitched_recording(tmp_path / 'pairDLC_test.csv', individuals=2)
    out = run_demo(tmp_path, trained_rat, recording, '--min_bout', '8')
    rows = read_csv(out / 'ethogram.csv')
    assert 'time_s' not in rows[0]
    by_animal = {name: np.array(['abcd'.index(r['label']) for r in rows if r['individual'] == name])
                 for name in ('a', 'b')}
    assert len(by_animal['a']) == len(by_animal['b']) == len(truth)
    reverse = np.repeat(ORDER[::-1], SEGMENT)
    assert (by_animal['a'] == truth).mean() >= 0.7 and (by_animal['b'] == reverse).mean() >= 0.7
    bouts = read_csv(out / 'bouts.csv')
    assert {b['individual'] for b in bouts} == {'a', 'b'}
    assert all(int(b['duration_frames']) >= 8 for b in bouts)


def test_anomaly_column_with_features(tmp_path, trained_rat):
    work = tmp_path / 'features'
    assert main_module.main(['extract', '-w', str(work), *RAT_MODEL_ARGS, '--weights', trained_rat['weights'],
                             '--data_path', trained_rat['train'][0], '--label_path', trained_rat['train'][1],
                             '--num_worker', '0']) == 0
    recording, truth = stitched_recording(tmp_path / 'sDLC_test.csv')
    out = run_demo(tmp_path, trained_rat, recording, '--features', str(work / 'features.pkl'))
    rows = read_csv(out / 'ethogram.csv')
    scores = np.array([float(r['anomaly_score']) for r in rows])
    assert np.isfinite(scores).all() and scores.min() >= 0 and scores.std() > 0


def test_window_helpers():
    starts = ethogram.window_starts(50, 16, 8)
    assert starts.tolist() == [0, 8, 16, 24, 32, 34]
    with pytest.raises(ValueError, match='the recording has 10 frames, shorter than one window of 16 frames'):
        ethogram.window_starts(10, 16, 8)
    values = np.array([[1.0], [3.0]])
    averaged = ethogram.frame_average(values, np.array([0, 2]), 4, 6)
    assert averaged[:, 0].tolist() == [1, 1, 2, 2, 3, 3]
    labels = np.array([0, 0, 0, 0, 1, 0, 0, 2, 2, 2, 2, 2])
    runs = ethogram.bouts(labels, np.ones(12), min_bout=3)
    assert [(label, s, e) for label, s, e, _ in runs] == [(0, 0, 6), (2, 7, 11)]


def test_bad_inputs_give_one_line(tmp_path, trained_rat):
    short, _ = stitched_recording(tmp_path / 'shortDLC_test.csv')
    with open(short) as handle:
        lines = handle.readlines()[:3 + 10]
    (tmp_path / 'tinyDLC_test.csv').write_text(''.join(lines))
    wrong = tmp_path / 'wrongDLC_test.csv'
    wrong.write_text(dlc_csv_text(np.ones((40, 3, 3), np.float32), 'DLC_test', ['a', 'b', 'c']))
    video = tmp_path / 'v.mp4'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), 30, (64, 48))
    for _ in range(5):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    cases = [
        (['--input', str(tmp_path / 'tinyDLC_test.csv')], 'shorter than one window of 16 frames'),
        (['--input', str(wrong)], '3 bodyparts (a, b, c) but the model\'s graph has 12 nodes'),
        (['--input', short, '--video', str(video)], 'v.mp4 has 5 frames but'),
        (['--input', str(tmp_path / 'none.csv')], 'none.csv: no such pose file or folder'),
    ]
    for extra, message in cases:
        proc = subprocess.run([sys.executable, 'main.py', 'demo', '-w', str(tmp_path / 'w'), *RAT_MODEL_ARGS,
                               '--weights', trained_rat['weights'], '--window', '16', '--width', '640',
                               '--height', '480', *extra], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 1, (extra, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, proc.stderr


def test_video_gets_an_annotated_copy(tmp_path, trained_rat):
    recording, truth = stitched_recording(tmp_path / 'vidDLC_test.csv')
    video = tmp_path / 'vid.mp4'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), 30, (160, 120))
    for _ in range(len(truth)):
        writer.write(np.zeros((120, 160, 3), np.uint8))
    writer.release()
    out = run_demo(tmp_path, trained_rat, recording, '--video', str(video))
    capture = cv2.VideoCapture(str(out / 'annotated.mp4'))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == len(truth)
    assert frames[10].shape == (120, 160, 3) and frames[10].max() > 100  # skeleton and label drawn on black


def test_frame_average_of_probabilities_stays_a_probability():
    """A running sum over a long recording left round-off below zero where a class had almost no probability, and
    the labelling refused its own output; the average is a sum of non-negative terms per frame."""
    rng = np.random.default_rng(0)
    starts = ethogram.window_starts(6000, 64, 8)
    logits = rng.normal(0, 30, size=(len(starts), 5))  # confident windows: many probabilities near 0
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    averaged = ethogram.frame_average(probs, starts, 64, 6000)
    assert averaged.min() >= 0
    np.testing.assert_allclose(averaged.sum(axis=1), 1.0, rtol=1e-12)
    frame = 1000
    covering = (starts <= frame) & (starts + 64 > frame)
    np.testing.assert_allclose(averaged[frame], probs[covering].mean(axis=0), rtol=1e-12, atol=1e-300)
