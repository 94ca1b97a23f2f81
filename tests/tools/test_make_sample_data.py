"""tools/make_sample_data.py: determinism, the DeepLabCut file format, likelihoods and behaviours that differ."""
from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd
import pytest
import yaml

import tools.make_sample_data as msd

SMALL = dict(seed=0, recordings=2, abnormal=1, frames=120)
FPS = 30.0


@pytest.fixture(scope='module')
def sample(tmp_path_factory) -> tuple[str, dict[str, list[str]]]:
    out = str(tmp_path_factory.mktemp('sample'))
    return out, msd.make_sample(out, **SMALL)


def _files(root: str) -> dict[str, bytes]:
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as handle:
                found[os.path.relpath(path, root)] = handle.read()
    return found


def _load(path: str) -> np.ndarray:
    """(T, V, 3) x, y, likelihood of a DLC CSV."""
    frame = pd.read_csv(path, header=[0, 1, 2], index_col=0)
    return frame.to_numpy().reshape(len(frame), len(msd.BODYPARTS), 3)


def test_layout_of_the_output(sample):
    out, written = sample
    expected = {f'csv_data/{b}/rat{i:02d}_{b}{msd.SCORER}.csv' for b in msd.BEHAVIOURS for i in (1, 2)}
    expected |= {f'abnormal/rat01_{msd.ABNORMAL_BEHAVIOUR}{msd.SCORER}.csv', 'config.yaml'}
    assert set(_files(out)) == expected
    assert sorted(os.path.relpath(p, out) for p in written['csv'] + written['abnormal'] + written['config']) \
        == sorted(expected)
    assert msd.SCORER == 'DLC_resnet50_ratsampleNov26shuffle1_100000'


def test_same_seed_same_bytes_other_seed_other_bytes(sample, tmp_path):
    out, _ = sample
    msd.make_sample(str(tmp_path / 'again'), **SMALL)
    assert _files(str(tmp_path / 'again')) == _files(out)
    msd.make_sample(str(tmp_path / 'other'), **{**SMALL, 'seed': 1})
    first, other = _files(out), _files(str(tmp_path / 'other'))
    assert first['config.yaml'] == other['config.yaml']
    csvs = [name for name in first if name.endswith('.csv')]
    assert all(first[name] != other[name] for name in csvs)


# sha256 over the sorted relative paths and contents of make_sample(**SMALL); pins the single-animal sample so that
# changes to the shared body model (the social sample reuses it) cannot alter it unnoticed
SMALL_DIGEST = 'fcf90a3bce2180589e53f25bdf18c4d3827bd3741c5792f4643a4e135d0968d6'


def _digest(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.replace(os.sep, '/').encode() + b'\0' + files[name])
    return digest.hexdigest()


def test_the_sample_bytes_are_pinned(sample):
    out, _ = sample
    assert _digest(_files(out)) == SMALL_DIGEST


def test_header_is_dlc_single_animal_and_pandas_reads_it_back(sample):
    _, written = sample
    path = written['csv'][0]
    with open(path, encoding='utf-8') as handle:
        lines = handle.read().split('\n')
    assert lines[0] == 'scorer,' + ','.join([msd.SCORER] * 36)
    assert lines[1].split(',')[:7] == ['bodyparts', 'nose', 'nose', 'nose', 'left_ear', 'left_ear', 'left_ear']
    assert lines[2] == 'coords,' + ','.join(['x', 'y', 'likelihood'] * 12)
    assert lines[3].startswith('0,') and lines[4].startswith('1,')
    assert len(lines) == 3 + SMALL['frames'] + 1 and lines[-1] == ''  # header, one row per frame, final newline
    assert '\r' not in lines[3]
    frame = pd.read_csv(path, header=[0, 1, 2], index_col=0)
    assert list(frame.columns.names) == ['scorer', 'bodyparts', 'coords']
    assert set(frame.columns.get_level_values('scorer')) == {msd.SCORER}
    assert list(frame.columns.get_level_values('bodyparts')[::3]) == list(msd.BODYPARTS)
    assert list(frame.columns.get_level_values('coords')[:3]) == ['x', 'y', 'likelihood']
    assert (frame.dtypes == np.float64).all()
    assert list(frame.index) == list(range(SMALL['frames']))
    # values are float32 numbers written at full precision, as DeepLabCut writes them
    values = frame.to_numpy()
    np.testing.assert_array_equal(values, values.astype(np.float32).astype(np.float64))


def test_likelihoods_and_occlusions(sample):
    _, written = sample
    data = np.concatenate([_load(p) for p in written['csv'] + written['abnormal']])
    likelihood = data[..., 2]
    assert likelihood.min() >= 0.0 and likelihood.max() <= 1.0
    occluded = likelihood < msd.PCUTOFF
    assert 0.005 <= occluded.mean() <= 0.15  # stated band: 0.5 % to 15 % of points under the cutoff
    assert (likelihood >= 0.9).mean() >= 0.8  # mostly confident
    assert ((likelihood >= 0.6) & (likelihood < 0.9)).any()  # short dips above the cutoff happen too


def test_occluded_points_jump(tmp_path):
    rng = np.random.default_rng(3)
    animal = msd.make_animal(np.random.default_rng(4), 480)
    data = msd.simulate_recording('resting', animal, rng, n_frames=600)
    step = np.linalg.norm(np.diff(data[:, :, :2], axis=0), axis=-1)  # (T-1, V) pixels per frame
    low = (data[1:, :, 2] < msd.PCUTOFF) & (data[:-1, :, 2] < msd.PCUTOFF)
    high = (data[1:, :, 2] >= 0.9) & (data[:-1, :, 2] >= 0.9)
    assert low.sum() > 20
    assert np.median(step[low]) > 3 * np.median(step[high])


def test_points_lie_inside_the_frame(tmp_path):
    out = str(tmp_path / 'small')
    written = msd.make_sample(out, seed=2, recordings=2, abnormal=1, frames=150, width=320, height=200)
    for path in written['csv'] + written['abnormal']:
        data = _load(path)
        confident = data[..., 2] >= msd.PCUTOFF
        x, y = data[..., 0][confident], data[..., 1][confident]
        assert x.min() >= 0 and x.max() <= 319 and y.min() >= 0 and y.max() <= 199, path
        assert data[..., 0].min() >= 0 and data[..., 1].max() <= 199


def _interpolate_occlusions(data: np.ndarray) -> np.ndarray:
    """Replace every coordinate with likelihood under the cutoff by linear interpolation over time."""
    data = data.astype(np.float64).copy()
    frames = np.arange(len(data))
    for v in range(data.shape[1]):
        good = data[:, v, 2] >= msd.PCUTOFF
        for c in (0, 1):
            data[:, v, c] = np.interp(frames, frames[good], data[good, v, c])
    return data


def _recordings(behaviour: str, n: int = 3, frames: int = 300) -> list[np.ndarray]:
    """Clean (occlusions interpolated) recordings of ``behaviour`` by ``n`` animals."""
    recordings = []
    for i in range(n):
        animal = msd.make_animal(np.random.default_rng([7, i]), 480)
        rng = np.random.default_rng([8, i, len(behaviour)])
        recordings.append(_interpolate_occlusions(msd.simulate_recording(behaviour, animal, rng, n_frames=frames)))
    return recordings


def _displacement_per_second(data: np.ndarray) -> float:
    """Median distance the hindquarters (tail base) move in one second, pixels (the spine point moves in rearing)."""
    lag = int(FPS)
    return float(np.median(np.linalg.norm(data[lag:, msd.TBASE, :2] - data[:-lag, msd.TBASE, :2], axis=-1)))


def _turn_per_second(data: np.ndarray) -> float:
    """Median change of the body axis (tail base -> neck) direction in one second, degrees."""
    axis = data[:, msd.NECK, :2] - data[:, msd.TBASE, :2]
    angle = np.unwrap(np.arctan2(axis[:, 1], axis[:, 0]))
    return float(np.degrees(np.median(np.abs(angle[int(FPS):] - angle[:-int(FPS)]))))


def _band_power(signal: np.ndarray, low: float, high: float) -> float:
    """Mean spectral power of a 1-D signal between ``low`` and ``high`` Hz."""
    spectrum = np.abs(np.fft.rfft(signal - signal.mean())) ** 2 / len(signal)
    freq = np.fft.rfftfreq(len(signal), 1 / FPS)
    return float(spectrum[(freq >= low) & (freq <= high)].mean())


def _forepaw_stroke(data: np.ndarray) -> np.ndarray:
    """Mean forepaw position along the body axis, relative to the spine point, pixels per frame."""
    axis = data[:, msd.NECK, :2] - data[:, msd.TBASE, :2]
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    paws = (data[:, msd.LFORE, :2] + data[:, msd.RFORE, :2]) / 2 - data[:, msd.SPINE, :2]
    return (paws * axis).sum(axis=1)


def test_behaviours_differ_in_body_motion():
    rec = {b: _recordings(b) for b in msd.BEHAVIOURS + (msd.ABNORMAL_BEHAVIOUR,)}
    speed = {b: min(_displacement_per_second(d) for d in r) for b, r in rec.items()}
    fastest_still = max(max(_displacement_per_second(d) for d in rec[b]) for b in ('resting', 'grooming', 'rearing'))
    assert speed['walking'] > 5 * fastest_still  # walking moves across the arena, the others stay put
    turn = {b: [_turn_per_second(d) for d in r] for b, r in rec.items()}
    assert min(turn['turning']) > 60 and max(turn['resting']) < 10 and min(turn['turning']) > 2 * max(turn['walking'])
    stroke = {b: [_band_power(_forepaw_stroke(d), 4.0, 8.0) for d in r] for b, r in rec.items()}
    assert min(stroke['grooming']) > 3 * max(stroke['resting'])  # fast forepaw strokes
    length = {b: [np.std(np.linalg.norm(d[:, msd.NOSE, :2] - d[:, msd.TBASE, :2], axis=1)) for d in r]
              for b, r in rec.items()}
    assert min(length['rearing']) > 2 * max(length['resting'])  # the body foreshortens and stretches again
    tremor = {b: [np.mean([_band_power(np.diff(d[:, v, a]), 8.0, 13.0) for v in (msd.NOSE, msd.SPINE, msd.TBASE)
                           for a in (0, 1)]) for d in r] for b, r in rec.items()}  # power of the 8-13 Hz velocity
    normal = max(max(tremor[b]) for b in msd.BEHAVIOURS)
    assert min(tremor[msd.ABNORMAL_BEHAVIOUR]) > 3 * normal  # whole-body 8 to 12 Hz tremor


def test_config_yaml_is_a_dlc_config_of_the_rat_layout(sample):
    out, _ = sample
    with open(os.path.join(out, 'config.yaml'), encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    assert config['bodyparts'] == list(msd.BODYPARTS)
    assert config['pcutoff'] == 0.6
    assert config['Task'] == 'ratsample' and config['scorer'] == 'stgcn' and config['date'] == 'Nov26'
    index = {name: i for i, name in enumerate(config['bodyparts'])}
    edges = [tuple(sorted((index[a], index[b]))) for a, b in config['skeleton']]
    assert edges == [tuple(sorted(e)) for e in msd.SKELETON]
    assert len(config['video_sets']) == 5 * SMALL['recordings'] + SMALL['abnormal']
    assert {v['crop'] for v in config['video_sets'].values()} == {'0, 640, 0, 480'}


def test_skeleton_matches_the_rat_graph_layout():
    graph = pytest.importorskip('net.utils.graph')
    spec = graph.LAYOUTS['rat']
    assert tuple(spec.names) == msd.BODYPARTS
    assert sorted(tuple(sorted(e)) for e in spec.edges) == sorted(tuple(sorted(e)) for e in msd.SKELETON)


def test_a_smaller_rerun_removes_its_own_stale_files_only(tmp_path):
    out = str(tmp_path / 'sample')
    msd.make_sample(out, seed=0, recordings=3, abnormal=2, frames=30)
    mine = os.path.join(out, 'csv_data', 'walking', 'my_own_recording.csv')
    with open(mine, 'w', encoding='utf-8') as handle:
        handle.write('keep me\n')
    msd.make_sample(out, seed=0, recordings=2, abnormal=1, frames=30)
    walking = sorted(os.listdir(os.path.join(out, 'csv_data', 'walking')))
    assert walking == ['my_own_recording.csv', f'rat01_walking{msd.SCORER}.csv', f'rat02_walking{msd.SCORER}.csv']
    assert os.listdir(os.path.join(out, 'abnormal')) == [f'rat01_seizure{msd.SCORER}.csv']


@pytest.mark.parametrize('kwargs, message', [
    (dict(frames=0), 'frames must be an integer >= 1, got 0'),
    (dict(recordings=0), 'recordings must be an integer >= 1, got 0'),
    (dict(abnormal=-1), 'abnormal must be an integer >= 0, got -1'),
    (dict(width=10), 'width must be an integer >= 64, got 10'),
    (dict(fps=0.0), 'fps must be > 0, got 0.0'),
])
def test_bad_arguments_are_refused(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        msd.make_sample(str(tmp_path / 'x'), **kwargs)
    assert not os.path.exists(tmp_path / 'x')


def test_unknown_behaviour_lists_the_allowed_ones():
    animal = msd.make_animal(np.random.default_rng(0), 480)
    with pytest.raises(ValueError, match="unknown behaviour 'jumping' .allowed: walking, rearing, grooming, "
                                         "resting, turning, seizure"):
        msd.simulate_recording('jumping', animal, np.random.default_rng(0))


def test_command_line(tmp_path, capsys):
    out = str(tmp_path / 'cli')
    assert msd.main(['--out', out, '--recordings', '1', '--abnormal', '0', '--frames', '40', '--seed', '5']) == 0
    assert len(os.listdir(os.path.join(out, 'csv_data'))) == 5
    assert not os.path.exists(os.path.join(out, 'abnormal'))
    assert _load(os.path.join(out, 'csv_data', 'turning', f'rat01_turning{msd.SCORER}.csv')).shape == (40, 12, 3)
    with pytest.raises(SystemExit) as exit_info:
        msd.parse_args(['-h'])
    assert exit_info.value.code == 0
    assert '--recordings' in capsys.readouterr().out


# ---------------------------------------------------------------- the social (two-animal) sample
SOCIAL_SMALL = dict(seed=0, recordings=2, frames=150)


@pytest.fixture(scope='module')
def social(tmp_path_factory) -> tuple[str, dict[str, list[str]]]:
    out = str(tmp_path_factory.mktemp('social'))
    return out, msd.make_social_sample(out, **SOCIAL_SMALL)


def test_social_layout_and_determinism(social, tmp_path):
    out, written = social
    name = f'{msd.SOCIAL_SCORER}{msd.SOCIAL_SUFFIX}.csv'
    expected = {f'csv_data/{b}/pair{i:02d}_{b}{name}' for b in msd.SOCIAL_BEHAVIOURS for i in (1, 2)}
    assert set(_files(out)) == expected | {'config.yaml'}
    assert sorted(os.path.relpath(p, out) for p in written['csv'] + written['config']) == sorted(expected
                                                                                               | {'config.yaml'})
    assert msd.SOCIAL_SCORER == 'DLC_dlcrnetms5_ratsocialNov26shuffle1_200000'
    msd.make_social_sample(str(tmp_path / 'again'), **SOCIAL_SMALL)
    assert _files(str(tmp_path / 'again')) == _files(out)
    msd.make_social_sample(str(tmp_path / 'other'), **{**SOCIAL_SMALL, 'seed': 1})
    other = _files(str(tmp_path / 'other'))
    assert all(other[name] != data for name, data in _files(out).items() if name.endswith('.csv'))


def test_social_csv_is_madlc_and_dlc_io_reads_it(social):
    from feeder import dlc_io

    _, written = social
    with open(written['csv'][0], encoding='utf-8') as handle:
        lines = handle.read().split('\n')
    assert [line.split(',')[0] for line in lines[:4]] == ['scorer', 'individuals', 'bodyparts', 'coords']
    assert lines[1] == 'individuals,' + ','.join(['rat1'] * 36 + ['rat2'] * 36)
    assert len(lines) == 4 + SOCIAL_SMALL['frames'] + 1 and lines[-1] == ''
    empty = 0
    for path in written['csv']:
        rec = dlc_io.read_pose_file(path)
        assert rec.fmt == 'dlc-csv-4' and rec.individuals == list(msd.INDIVIDUALS)
        assert rec.bodyparts == list(msd.BODYPARTS) and rec.xy.shape == (SOCIAL_SMALL['frames'], 2, 12, 2)
        missing = np.isnan(rec.xy).any(axis=-1)
        assert (rec.score[missing] == 0).all()
        empty += int(missing.sum())
        assert missing.mean() < 0.2
    assert empty > 0  # points maDLC did not find are empty cells


def test_social_config_yaml_is_a_madlc_config(social):
    graph = pytest.importorskip('net.utils.graph')
    out, _ = social
    path = os.path.join(out, 'config.yaml')
    with open(path, encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    assert config['multianimalproject'] is True and config['identity'] is False
    assert config['individuals'] == ['rat1', 'rat2'] and config['uniquebodyparts'] == []
    assert config['multianimalbodyparts'] == list(msd.BODYPARTS) and config['bodyparts'] == 'MULTI!'
    assert config['Task'] == 'ratsocial' and len(config['video_sets']) == 5 * SOCIAL_SMALL['recordings']
    names, edges = graph.read_dlc_config(path)
    assert names == list(msd.BODYPARTS)
    index = {name: i for i, name in enumerate(names)}
    assert sorted(tuple(sorted((index[a], index[b]))) for a, b in edges) == sorted(tuple(sorted(e))
                                                                                 for e in msd.SKELETON)


def _pairs(behaviour: str, n: int = 4, frames: int = 450) -> list[tuple[np.ndarray, int, float]]:
    """``n`` recordings of ``behaviour``: (clean data (T, 2, V, 3), the actor's slot, body length in pixels)."""
    out = []
    for i in range(n):
        pair = msd.make_pair(np.random.default_rng([5, i]), 480)
        data, actor = msd.simulate_pair(behaviour, pair, np.random.default_rng([6, i, len(behaviour)]), frames)
        clean = np.stack([_interpolate_occlusions(np.nan_to_num(data[:, m])) for m in range(2)], axis=1)
        length = float(np.median(np.linalg.norm(clean[:, :, msd.NOSE, :2] - clean[:, :, msd.TBASE, :2], axis=-1)))
        out.append((clean, actor, length))
    return out


def _distance(data: np.ndarray, length: float) -> np.ndarray:
    """(T,) distance between the two spine points, body lengths."""
    return np.linalg.norm(data[:, 0, msd.SPINE, :2] - data[:, 1, msd.SPINE, :2], axis=-1) / length


def _ahead(data: np.ndarray, actor: int) -> np.ndarray:
    """(T,) cosine of the angle between the actor's body axis and the direction to the partner."""
    axis = data[:, actor, msd.NECK, :2] - data[:, actor, msd.TBASE, :2]
    to_partner = data[:, 1 - actor, msd.SPINE, :2] - data[:, actor, msd.SPINE, :2]
    return (axis * to_partner).sum(-1) / np.linalg.norm(axis, axis=-1) / np.linalg.norm(to_partner, axis=-1)


def test_social_behaviours_differ_in_the_pairs_geometry():
    rec = {b: _pairs(b) for b in msd.SOCIAL_BEHAVIOURS}
    lag = int(FPS)
    change = np.concatenate([_distance(d, n)[lag:] - _distance(d, n)[:-lag] for d, _, n in rec['approach']])
    assert (change < -0.2).mean() > 1.5 * (change > 0.2).mean()  # in approach the distance mostly shrinks
    assert np.median(change) < -0.1
    ahead = {b: np.concatenate([_ahead(d, actor) for d, actor, _ in r]) for b, r in rec.items()}
    assert np.median(ahead['approach']) > 0.7 and np.median(ahead['follow']) > 0.7  # the partner ahead of the actor
    assert abs(np.median(ahead['apart'])) < 0.5  # anywhere
    for data, _, length in rec['apart']:  # apart stays far apart
        assert np.percentile(_distance(data, length), 5) > 2.5
    for data, actor, length in rec['follow']:  # follow: at a steady distance
        distance = _distance(data, length)
        assert np.mean((distance > 0.8) & (distance < 3.0)) > 0.85

    def same_way(data: np.ndarray) -> np.ndarray:  # (T,) cosine of the angle between the two body axes
        axes = data[:, :, msd.NECK, :2] - data[:, :, msd.TBASE, :2]  # (T, 2, 2)
        angle = np.arctan2(axes[..., 1], axes[..., 0])
        return np.cos(angle[:, 0] - angle[:, 1])

    assert np.median(np.concatenate([same_way(d) for d, _, _ in rec['follow']])) > 0.4  # heading the same way
    assert abs(np.median(np.concatenate([same_way(d) for d, _, _ in rec['apart']]))) < 0.5
    for data, actor, length in rec['sniffing']:  # the actor's nose at the partner's body
        body = data[:, 1 - actor, [msd.SPINE, msd.LHIND, msd.RHIND, msd.TBASE], :2]  # (T, 4, 2)
        nose = data[:, actor, msd.NOSE, :2]
        assert np.median(np.linalg.norm(body - nose[:, None], axis=-1).min(axis=1)) < 0.4 * length
    for data, _, length in rec['fighting']:  # close and fast
        assert np.median(_distance(data, length)) < 1.3
    speed = {b: np.median([np.linalg.norm(d[lag:, :, msd.TBASE, :2] - d[:-lag, :, msd.TBASE, :2], axis=-1).mean()
                           / n for d, _, n in r]) for b, r in rec.items()}
    walked = [speed[b] for b in ('approach', 'follow', 'apart')]
    assert max(walked) < 1.5 * min(walked)  # each animal alone walks alike in these three
    assert speed['sniffing'] < 0.6 * min(walked) and speed['fighting'] > min(walked)
    actors = [actor for r in rec.values() for _, actor, _ in r]
    assert 0 < sum(actors) < len(actors)  # the actor is rat1 in some recordings, rat2 in others


def test_social_command_line_and_bad_arguments(tmp_path, capsys):
    out = str(tmp_path / 'cli')
    assert msd.main(['--social', '--out', out, '--recordings', '1', '--frames', '40', '--seed', '3']) == 0
    assert sorted(os.listdir(os.path.join(out, 'csv_data'))) == sorted(msd.SOCIAL_BEHAVIOURS)
    with pytest.raises(SystemExit) as exit_info:
        msd.parse_args(['--social', '--abnormal', '2'])
    assert exit_info.value.code == 2
    assert '--abnormal applies to the single-animal sample, not to --social' in capsys.readouterr().err
    assert msd.parse_args([]).out == 'data/sample' and msd.parse_args([]).abnormal == 4
    assert msd.parse_args(['--social']).out == 'data/social_sample'
    with pytest.raises(ValueError, match='frames must be an integer >= 1, got 0'):
        msd.make_social_sample(str(tmp_path / 'x'), frames=0)
    pair = msd.make_pair(np.random.default_rng(0), 480)
    with pytest.raises(ValueError, match="unknown social behaviour 'grooming' .allowed: approach, follow, sniffing, "
                                         "fighting, apart"):
        msd.simulate_pair('grooming', pair, np.random.default_rng(0))
