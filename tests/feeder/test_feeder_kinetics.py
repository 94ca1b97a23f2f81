"""feeder/feeder_kinetics.py: reading Kinetics-skeleton JSON clips."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from feeder.feeder_kinetics import Feeder_kinetics, read_skeleton_json


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


def _dataset(tmp_path, V=3, T=4):
    folder = tmp_path / 'kinetics_train'
    folder.mkdir()
    labels = {}
    for i, (name, has_skeleton) in enumerate([('b', True), ('a', True), ('empty', False)]):
        frames = [{'frame_index': t, 'skeleton': [_skeleton([(0.5 + 0.1 * i, 0.5)] * V, [1.0] * V)]}
                  for t in range(T)] if has_skeleton else []
        _write(folder / f'{name}.json', frames, label_index=i)
        labels[name] = {'has_skeleton': has_skeleton, 'label': f'class{i}', 'label_index': i}
    label_path = tmp_path / 'kinetics_train_label.json'
    label_path.write_text(json.dumps(labels))
    return str(folder), str(label_path)


def test_feeder_reads_sorted_clips_and_drops_empty_ones(tmp_path):
    folder, label_path = _dataset(tmp_path)
    feeder = Feeder_kinetics(folder, label_path, max_frame=4)
    assert feeder.sample_name == ['a.json', 'b.json'] and len(feeder) == 2
    assert feeder.V == 3 and feeder.T == 4 and feeder.M == 2
    data, label = feeder[0]
    assert label == 1 and data.shape == (3, 4, 3, 2)
    np.testing.assert_allclose(data[0, :, :, 0], 0.1)  # 0.6 - 0.5
    assert len(Feeder_kinetics(folder, label_path, ignore_empty_sample=False, max_frame=4)) == 3


def test_feeder_window_and_augmentation(tmp_path):
    folder, label_path = _dataset(tmp_path, T=4)
    data, _ = Feeder_kinetics(folder, label_path, window_size=6, max_frame=4)[0]
    assert data.shape == (3, 6, 3, 2) and not data[:, 4:].any()
    np.random.seed(0)
    data, _ = Feeder_kinetics(folder, label_path, random_choose=True, random_move=True, window_size=2,
                              max_frame=4)[1]
    assert data.shape == (3, 2, 3, 2)


def test_feeder_errors_name_the_clip(tmp_path):
    folder, label_path = _dataset(tmp_path)
    _write(os.path.join(folder, 'stray.json'), [])
    with pytest.raises(ValueError, match=r"no entry for clip 'stray\.json'"):
        Feeder_kinetics(folder, label_path, max_frame=4)
    os.remove(os.path.join(folder, 'stray.json'))
    labels = json.loads(open(label_path).read())
    labels['a']['label_index'] = 7
    with open(label_path, 'w') as handle:
        json.dump(labels, handle)
    with pytest.raises(ValueError, match=r'a\.json: label_index 1 differs from 7'):
        Feeder_kinetics(folder, label_path, max_frame=4)[0]
    with pytest.raises(FileNotFoundError, match='nowhere'):
        Feeder_kinetics(str(tmp_path / 'nowhere'), label_path)



def test_the_json_module_and_orjson_read_the_same_values(tmp_path, monkeypatch):
    from feeder import feeder_kinetics
    rng = np.random.default_rng(0)
    frames = [{'frame_index': t, 'skeleton': [_skeleton(rng.uniform(0, 1, (3, 2)).round(5).tolist(),
                                                        rng.uniform(0, 1, 3).tolist())]} for t in range(4)]
    path = _write(tmp_path / 'a.json', frames)
    default, _ = read_skeleton_json(path, max_frame=4)
    monkeypatch.setattr(feeder_kinetics, '_orjson', None)
    plain, _ = read_skeleton_json(path, max_frame=4)
    assert default.tobytes() == plain.tobytes()
    # NaN is not JSON; the json module reads it (orjson would refuse): the same as the original
    nan_path = tmp_path / 'nan.json'
    nan_path.write_text('{"data": [{"frame_index": 0, "skeleton": [{"pose": [NaN, 0.5], "score": [0.0]}]}]}')
    monkeypatch.undo()
    data, _ = read_skeleton_json(str(nan_path), max_frame=1)
    assert data[0, 0, 0, 0] == 0.0  # score 0 masks the NaN x
