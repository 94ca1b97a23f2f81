"""tools/visualize.py: frame counts of GIF/MP4, masked joints, npy samples, the --top mode and errors."""
from __future__ import annotations

import json
import os
import pickle

import cv2
import imageio.v3 as iio
import numpy as np
import pytest

import tools.visualize as vis

SIZE = 96
BAND = 34          # rows of the text header at SIZE (two lines); skeletons in the tests stay below it


def make_clip_json(path, frames: int = 9, joints: int = 18, scores=None, frame_size=None) -> str:
    """A one-person clip whose joints lie in the lower half of the frame, moving right a little per frame."""
    rng = np.random.default_rng(0)
    base = np.column_stack([rng.uniform(0.2, 0.8, joints), rng.uniform(0.55, 0.95, joints)])
    data = []
    for t in range(frames):
        pose = base + [0.01 * t, 0]
        score = np.ones(joints) if scores is None else np.asarray(scores, float)
        data.append({'frame_index': t + 1, 'skeleton': [{'pose': pose.ravel().tolist(), 'score': score.tolist()}]})
    clip = {'data': data, 'label': 'rear', 'label_index': 2}
    if frame_size is not None:
        clip['frame_size'] = frame_size
    with open(path, 'w') as handle:
        json.dump(clip, handle)
    return str(path)


def drawn_pixels(frame: np.ndarray) -> int:
    """Non-background pixels below the text header."""
    return int((frame[BAND:] != 255).any(axis=-1).sum())


def count_video_frames(path: str) -> int:
    capture = cv2.VideoCapture(path)
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


@pytest.mark.parametrize('ext', ['gif', 'mp4'])
def test_json_clip_has_one_frame_per_entry(tmp_path, ext):
    clip = vis.load_json_clip(make_clip_json(tmp_path / 'clip.json', frames=9))
    out = str(tmp_path / f'clip.{ext}')
    frames = vis.render_clip(clip, out, size=SIZE, fps=10)
    assert len(frames) == 9
    if ext == 'gif':
        back = iio.imread(out, index=None)
        assert back.shape == (9, SIZE, SIZE, 3)
        # one shared palette: the background stays exactly white and the drawing close to the original
        assert (back[:, -1, -1] == 255).all()
        assert np.abs(back.astype(int) - np.stack(frames)).mean() < 2
    else:
        assert count_video_frames(out) == 9
    assert clip.frame_numbers == list(range(1, 10))


def test_frame_size_sets_the_aspect(tmp_path):
    clip = vis.load_json_clip(make_clip_json(tmp_path / 'c.json', frames=2, frame_size=[640, 480]))
    frames = vis.render_frames(clip, (), size=200)
    assert frames[0].shape == (150, 200, 3)


def test_masked_joints_are_not_drawn(tmp_path):
    full = vis.load_json_clip(make_clip_json(tmp_path / 'full.json', frames=2))
    scores = np.zeros(18)
    scores[5] = 0.9
    one = vis.load_json_clip(make_clip_json(tmp_path / 'one.json', frames=2, scores=scores))
    edges = vis.resolve_layout(None, 18).edges        # openpose, guessed from 18 joints
    assert len(edges) == 17
    full_px = drawn_pixels(vis.render_frames(full, edges, SIZE)[0])
    one_px = drawn_pixels(vis.render_frames(one, edges, SIZE)[0])
    radius = max(2, SIZE // 100)
    assert 0 < one_px <= (2 * radius + 3) ** 2         # one dot, no bones
    assert full_px > 10 * one_px


def test_joint_at_origin_is_masked_even_with_a_score():
    xy = np.zeros((1, 3, 1, 2))
    xy[0, 1, 0] = [0.5, 0.7]
    clip = vis.Clip(xy, np.ones((1, 3, 1)), [0], '')
    assert vis.visible_joints(clip)[0, :, 0].tolist() == [False, True, False]
    # an edge to a masked joint is not drawn; an edge between visible joints is
    frame = vis.render_frames(clip, [(0, 1), (1, 2)], SIZE)[0]
    assert drawn_pixels(frame) <= (2 * max(2, SIZE // 100) + 3) ** 2
    xy[0, 2, 0] = [0.1, 0.7]
    frame = vis.render_frames(vis.Clip(xy, np.ones((1, 3, 1)), [0], ''), [(1, 2)], SIZE)[0]
    row = int(round(0.7 * SIZE))
    assert (frame[row, int(0.3 * SIZE)] != 255).any()   # the middle of the bone 1-2


def make_npy(tmp_path, n: int = 5, t: int = 10, filled: int = 7, v: int = 12) -> tuple[str, list[str]]:
    """(N, 3, T, V, 1) with x, y centred by -0.5, the last T - filled frames zero padding, and a label pkl."""
    rng = np.random.default_rng(1)
    data = np.zeros((n, 3, t, v, 1), np.float32)
    data[:, 0, :filled] = rng.uniform(-0.3, 0.3, (n, filled, v, 1))
    data[:, 1, :filled] = rng.uniform(0.1, 0.4, (n, filled, v, 1))
    data[:, 2, :filled] = 1
    path = tmp_path / 'val_data.npy'
    np.save(path, data)
    names = [f'rat_{i}.json' for i in range(n)]
    with open(tmp_path / 'val_label.pkl', 'wb') as handle:
        pickle.dump((names, [i % 2 for i in range(n)]), handle)
    return str(path), names


def test_npy_sample_adds_back_the_centre_and_drops_padding(tmp_path):
    path, names = make_npy(tmp_path)
    clip = vis.load_npy_sample(path, sample=names[2])
    assert clip.num_frames == 7 and clip.num_joints == 12
    data = np.load(path)
    np.testing.assert_allclose(clip.xy[0, :, 0, 0], data[2, 0, 0, :, 0] + 0.5, rtol=1e-6)
    assert clip.label == 'rat_2.json: label 0'
    out = str(tmp_path / 's.gif')
    vis.render_clip(clip, out, size=SIZE)
    assert iio.imread(out, index=None).shape[0] == 7


def test_top_mode_writes_k_clips_and_a_contact_sheet(tmp_path):
    path, names = make_npy(tmp_path)
    csv_path = tmp_path / 'clusters.csv'
    scores = [0.5, 3.214, 1.0, 2.0, 0.1]
    lines = ['sample,cluster,is_anomaly,anomaly_score,true_label']
    lines += [f'{name},0,0,{score},walk' for name, score in zip(names, scores)]   # not sorted on purpose
    csv_path.write_text('\n'.join(lines) + '\n')
    out = tmp_path / 'anomalies'
    paths = vis.render_top(str(csv_path), path, str(out), top=3, size=SIZE)
    expected = ['rank01_score3.21_rat_1.json.gif', 'rank02_score2.00_rat_3.json.gif',
                'rank03_score1.00_rat_2.json.gif']
    assert [os.path.basename(p) for p in paths] == expected
    assert sorted(os.listdir(out)) == sorted(expected + ['contact_sheet.png'])
    for p in paths:
        assert iio.imread(p, index=None).shape[0] == 7
    sheet = cv2.imread(str(out / 'contact_sheet.png'))
    assert sheet is not None and sheet.shape[1] > 3 * SIZE and sheet.std() > 0


def test_top_mode_over_several_data_files(tmp_path):
    first, names = make_npy(tmp_path)
    other_dir = tmp_path / 'abnormal'
    other_dir.mkdir()
    np.save(other_dir / 'train_data.npy', np.load(first)[:2] * 0.5)
    with open(other_dir / 'train_label.pkl', 'wb') as handle:
        pickle.dump((['seizure_0.json', 'seizure_1.json'], [5, 5]), handle)
    csv_path = tmp_path / 'clusters.csv'
    csv_path.write_text('sample,anomaly_score\nseizure_1.json,9.0\n' + f'{names[0]},1.0\nunknown.json,0.5\n')
    paths = vis.render_top(str(csv_path), [first, str(other_dir / 'train_data.npy')], str(tmp_path / 'o'), top=2,
                           size=SIZE)
    assert [os.path.basename(p) for p in paths] == ['rank01_score9.00_seizure_1.json.gif',
                                                     'rank02_score1.00_rat_0.json.gif']
    with pytest.raises(ValueError, match="sample 'seizure_1.json' is in none of the label files"):
        vis.render_top(str(csv_path), [first], str(tmp_path / 'o2'), top=3, size=SIZE)


def test_top_mode_needs_the_label_pkl(tmp_path):
    path, names = make_npy(tmp_path)
    os.remove(tmp_path / 'val_label.pkl')
    csv_path = tmp_path / 'clusters.csv'
    csv_path.write_text(f'sample,anomaly_score\n{names[0]},1.0\n')
    with pytest.raises(FileNotFoundError, match='val_label.pkl: no such label pkl .*give --label_path'):
        vis.render_top(str(csv_path), path, str(tmp_path / 'out'), top=1)


@pytest.mark.parametrize('case, message', [
    ('extension', "unsupported extension 'avi'; use .gif or .mp4"),
    ('layout', "--layout 'rat' has 12 joints but the clip has 18"),
    ('json', 'not valid JSON'),
    ('no_data', 'not a Kinetics-skeleton clip'),
    ('sample', "no sample named 'rat_9.json'"),
    ('csv', 'missing column(s) anomaly_score'),
])
def test_bad_inputs_name_the_problem(tmp_path, case, message):
    clip_path = make_clip_json(tmp_path / 'clip.json', frames=2)
    npy, names = make_npy(tmp_path)
    with pytest.raises(ValueError) as info:
        if case == 'extension':
            vis.main(['--clip', clip_path, '--out', str(tmp_path / 'x.avi')])
        elif case == 'layout':
            vis.main(['--clip', clip_path, '--layout', 'rat', '--out', str(tmp_path / 'x.gif')])
        elif case == 'json':
            (tmp_path / 'bad.json').write_text('{"data": [')
            vis.load_json_clip(str(tmp_path / 'bad.json'))
        elif case == 'no_data':
            (tmp_path / 'bad.json').write_text('{"frames": []}')
            vis.load_json_clip(str(tmp_path / 'bad.json'))
        elif case == 'sample':
            vis.load_npy_sample(npy, sample='rat_9.json')
        elif case == 'csv':
            (tmp_path / 'c.csv').write_text('sample,score\na,1\n')
            vis.render_top(str(tmp_path / 'c.csv'), npy, str(tmp_path / 'o'))
    assert message in str(info.value)
    assert not (tmp_path / 'x.gif').exists()
