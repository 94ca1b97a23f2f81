"""feeder/kinetics_json.py: writing and naming Kinetics-skeleton JSON clips (reading: test_feeder_kinetics.py)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from feeder import kinetics_json
from feeder.kinetics_json import read_skeleton_json


def test_clip_windows_keeps_last_partial_clip_if_half_and_short_segments_whole():
    assert kinetics_json.clip_windows(700, 300, 300) == [(0, 300), (300, 600)]      # 100 < 150 dropped
    assert kinetics_json.clip_windows(750, 300, 300) == [(0, 300), (300, 600), (600, 750)]
    assert kinetics_json.clip_windows(200, 300, 300) == [(0, 200)]
    assert kinetics_json.clip_windows(100, 300, 300) == [(0, 100)]   # shorter than a clip: one clip, padded later
    assert kinetics_json.clip_windows(100, 300, 300, min_len=150) == []
    assert kinetics_json.clip_windows(10, 4, 2) == [(0, 4), (2, 6), (4, 8), (6, 10)]
    with pytest.raises(ValueError, match='clip_len and stride must be positive'):
        kinetics_json.clip_windows(10, 0, 1)


def test_clip_json_text_matches_dict():
    rng = np.random.default_rng(0)
    pose = rng.uniform(0, 1, (5, 2, 3, 2)).astype(np.float32)
    score = rng.uniform(0, 1, (5, 2, 3)).astype(np.float32)
    score[1, 0] = 0
    pose[1, 0] = 0
    args = (pose, score, 'walk', 2, ['a', 'b', 'c'], (720.0, 540.0), '/x/rec.csv', 'rec',
            ['m1', 'm2'], 100)
    obj = kinetics_json.clip_to_kinetics_json(*args)
    assert json.loads(kinetics_json.clip_to_json_text(*args)) == obj
    assert [f['frame_index'] for f in obj['data']] == [0, 1, 2, 3, 4]
    first = obj['data'][0]['skeleton'][1]
    assert first['pose'] == [round(float(v), 5) for v in pose[0, 1].reshape(-1)]
    assert obj['masked_fraction'] == pytest.approx(3 / 30)
    assert obj['source'] == {'file': '/x/rec.csv', 'recording': 'rec', 'individual_names': ['m1', 'm2'],
                             'start_frame': 100, 'end_frame': 104}
    assert obj['label_index'] == 2 and obj['frame_size'] == [720.0, 540.0]


def test_clip_names_round_trip():
    name = kinetics_json.clip_name('walk', 'rat_', 7, aug=2)
    assert name == 'walk__rat___0007__aug2'
    assert kinetics_json.parse_clip_name(name + '.json') == {'label': 'walk', 'recording': 'rat_', 'clip': 7,
                                                      'aug': 2}
    with pytest.raises(ValueError, match='not allowed'):
        kinetics_json.check_label('a__b')


# ------------------------------------------------------------------ reading clips
def _skeleton(xy, score):
    """A skeleton of len(score) joints; xy is a list of (x, y) pairs."""
    return {'pose': [c for pair in xy for c in pair], 'score': list(score)}


def _write(path, frames, label_index=0, **extra):
    clip = {'data': frames, 'label': f'class{label_index}', 'label_index': label_index, **extra}
    with open(path, 'w') as handle:
        json.dump(clip, handle)
    return str(path)


def test_read_skeleton_json_keeps_the_best_persons_centres_and_masks(tmp_path):
    low = _skeleton([(0.1, 0.2), (0.3, 0.4)], [0.1, 0.1])
    high = _skeleton([(0.6, 0.7), (0.8, 0.9)], [0.9, 0.8])
    mid = _skeleton([(0.5, 0.5), (0.25, 0.75)], [0.5, 0.0])  # joint 1 not detected
    frames = [{'frame_index': 0, 'skeleton': [low, high, mid]},
              {'frame_index': 2, 'skeleton': [mid]}]
    path = _write(tmp_path / 'a.json', frames, label_index=3)
    data, label = read_skeleton_json(path, max_frame=4, num_person_in=5, num_person_out=2)
    assert label == 3
    assert data.dtype == np.float32 and data.shape == (3, 4, 2, 2)  # (C, T, V, M)
    expected = np.zeros((3, 4, 2, 2), dtype=np.float32)
    # frame 0: high (score 1.7) then mid (0.5); low (0.2) is dropped
    expected[:, 0, :, 0] = [[0.1, 0.3], [0.2, 0.4], [0.9, 0.8]]
    expected[:, 0, :, 1] = [[0.0, 0.0], [0.0, 0.0], [0.5, 0.0]]
    expected[:, 2, :, 0] = [[0.0, 0.0], [0.0, 0.0], [0.5, 0.0]]
    np.testing.assert_allclose(data, expected, atol=1e-7)


def test_num_person_in_limits_the_skeletons_read(tmp_path):
    frames = [{'frame_index': 0, 'skeleton': [_skeleton([(0.5, 0.5)], [s]) for s in (0.1, 0.2, 0.9)]}]
    path = _write(tmp_path / 'a.json', frames)
    data, _ = read_skeleton_json(path, max_frame=1, num_person_in=2, num_person_out=1)
    assert data[2, 0, 0, 0] == pytest.approx(0.2)  # the third skeleton was never read


def test_joint_count_is_read_from_the_data_and_extra_keys_are_ignored(tmp_path):
    # a DLC clip from csv2json: 5 bodyparts, one entry per individual in every frame, extra keys
    frames = [{'frame_index': t, 'skeleton': [_skeleton([(0.5, 0.5)] * 5, [1.0] * 5),
                                              _skeleton([(0.0, 0.0)] * 5, [0.0] * 5)]} for t in range(3)]
    path = _write(tmp_path / 'dlc.json', frames, bodyparts=list('abcde'), masked_fraction=0.5,
                  source='rec.csv', frame_size=[720, 540])
    data, _ = read_skeleton_json(path, max_frame=3)
    assert data.shape == (3, 3, 5, 2)
    assert np.all(data[2, :, :, 0] == 1.0) and not data[:, :, :, 1].any()


@pytest.mark.parametrize('content, message', [
    ('{"data": [', 'not valid JSON'),
    ('[1, 2]', 'not a Kinetics-skeleton clip'),
    ('{"data": [{"frame_index": 0, "skeleton": [{"pose": [0.1, 0.2, 0.3], "score": [1]}]}]}', 'pose of 3 values'),
    ('{"data": [{"frame_index": "x", "skeleton": [{"pose": [0.1, 0.2], "score": [1]}]}]}', "frame_index 'x'"),
    ('{"data": [{"frame_index": 0, "skeleton": [{"pose": [0.1, "a"], "score": [1]}]}]}', 'non-numeric'),
])
def test_malformed_clips_name_the_file(tmp_path, content, message):
    path = tmp_path / 'bad_clip.json'
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        read_skeleton_json(str(path), max_frame=2)
    assert 'bad_clip.json' in str(info.value)


def test_joint_count_disagreement_and_frame_range_are_errors(tmp_path):
    path = _write(tmp_path / 'twelve.json', [{'frame_index': 0, 'skeleton': [_skeleton([(0, 0)] * 12, [1] * 12)]}])
    with pytest.raises(ValueError, match=r'twelve\.json.*12 joints.*V=18'):
        read_skeleton_json(path, max_frame=2, V=18)
    late = _write(tmp_path / 'late.json', [{'frame_index': 5, 'skeleton': [_skeleton([(0, 0)], [1])]}])
    with pytest.raises(ValueError, match=r'late\.json: frame_index 5 is outside \[0, 5\)'):
        read_skeleton_json(late, max_frame=5)


def test_the_json_module_and_orjson_read_the_same_values(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    frames = [{'frame_index': t, 'skeleton': [_skeleton(rng.uniform(0, 1, (3, 2)).round(5).tolist(),
                                                        rng.uniform(0, 1, 3).tolist())]} for t in range(4)]
    path = _write(tmp_path / 'a.json', frames)
    default, _ = read_skeleton_json(path, max_frame=4)
    monkeypatch.setattr(kinetics_json, '_orjson', None)
    plain, _ = read_skeleton_json(path, max_frame=4)
    assert default.tobytes() == plain.tobytes()
    # NaN is not JSON; the json module reads it (orjson would refuse): the same as the original
    nan_path = tmp_path / 'nan.json'
    nan_path.write_text('{"data": [{"frame_index": 0, "skeleton": [{"pose": [NaN, 0.5], "score": [0.0]}]}]}')
    monkeypatch.undo()
    data, _ = read_skeleton_json(str(nan_path), max_frame=1)
    assert data[0, 0, 0, 0] == 0.0  # score 0 masks the NaN x


def test_tracked_individuals_keep_their_slots_in_every_frame(tmp_path):
    """csv2json clips name their individuals: slot m is the same animal in every frame, whatever the scores."""
    first = _skeleton([(0.1, 0.1), (0.2, 0.2)], [0.9, 0.9])
    second_low = _skeleton([(0.6, 0.6), (0.7, 0.7)], [0.2, 0.0])
    second_high = _skeleton([(0.6, 0.6), (0.7, 0.7)], [1.0, 1.0])
    third = _skeleton([(0.9, 0.9), (0.9, 0.9)], [0.05, 0.05])
    frames = [{'frame_index': 0, 'skeleton': [first, second_low, third]},
              {'frame_index': 1, 'skeleton': [first, second_high, third]}]
    source = {'individual_names': ['rat1', 'rat2', 'rat3']}
    tracked = _write(tmp_path / 'tracked.json', frames, source=source)
    data, _ = read_skeleton_json(tracked, max_frame=2, num_person_out=2)  # rat3 scores least over the clip
    np.testing.assert_allclose(data[0, :, 0, 0], [0.1 - 0.5, 0.1 - 0.5], rtol=1e-6)   # rat1 in slot 0 throughout
    np.testing.assert_allclose(data[0, :, 0, 1], [0.6 - 0.5, 0.6 - 0.5], rtol=1e-6)   # rat2 in slot 1 throughout
    np.testing.assert_array_equal(data[0:2, 0, 1, 1], [0, 0])                         # masked joint
    untracked = _write(tmp_path / 'untracked.json', frames)
    data, _ = read_skeleton_json(untracked, max_frame=2, num_person_out=2)            # the original: per frame
    np.testing.assert_allclose(data[0, 1, 0, 0], 0.6 - 0.5, rtol=1e-6)                # rat2 first in frame 1
    one = _write(tmp_path / 'one.json', [{'frame_index': 0, 'skeleton': [first]}], source={'individual_names': ['a']})
    data, _ = read_skeleton_json(one, max_frame=1, num_person_out=2)
    assert data.shape == (3, 1, 2, 2) and not data[..., 1].any()                       # an empty second slot
