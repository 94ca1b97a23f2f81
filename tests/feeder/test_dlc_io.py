"""feeder.dlc_io: every DeepLabCut / SLEAP format and quirk, by converted values or error text."""
from __future__ import annotations

import os

import numpy as np
import pytest

from feeder import dlc_io

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), '..',
                      'shared')
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data', 'dlc')
SCORER = 'DLC_resnet50_testJan1shuffle1_1000'


def write_single_csv(path, bodyparts, rows, newline='\n', scorers=None):
    """A 3-header-row DLC CSV; rows are lists of 3*V numbers (or '' for empty cells)."""
    n = 3 * len(bodyparts)
    scorers = scorers or [SCORER] * n
    lines = ['scorer,' + ','.join(scorers),
             'bodyparts,' + ','.join(bp for bp in bodyparts for _ in range(3)),
             'coords,' + ','.join(['x', 'y', 'likelihood'] * len(bodyparts))]
    lines += [f'{t},' + ','.join(str(v) for v in row) for t, row in enumerate(rows)]
    with open(path, 'w', newline='') as handle:
        handle.write(newline.join(lines) + newline)
    return str(path)


def write_ma_csv(path, layout, rows):
    """A 4-header-row maDLC CSV; ``layout`` is a list of (individual, bodypart)."""
    lines = ['scorer,' + ','.join([SCORER] * 3 * len(layout)),
             'individuals,' + ','.join(i for i, _ in layout for _ in range(3)),
             'bodyparts,' + ','.join(b for _, b in layout for _ in range(3)),
             'coords,' + ','.join(['x', 'y', 'likelihood'] * len(layout))]
    lines += [f'{t},' + ','.join(str(v) for v in row) for t, row in enumerate(rows)]
    with open(path, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    return str(path)


# ------------------------------------------------------------------ formats
def test_single_animal_three_rows(tmp_path):
    path = write_single_csv(tmp_path / 'a.csv', ['nose', 'tail'],
                            [[1, 2, 0.9, 3, 4, 0.8], [5, 6, 0.7, 7, 8, 0.6]])
    rec = dlc_io.read_pose_file(path)
    assert rec.fmt == 'dlc-csv-3'
    assert rec.bodyparts == ['nose', 'tail'] and rec.individuals == ['animal']
    assert rec.xy.shape == (2, 1, 2, 2) and rec.xy.dtype == np.float32
    np.testing.assert_allclose(rec.xy[1, 0], [[5, 6], [7, 8]])
    np.testing.assert_allclose(rec.score[:, 0], [[0.9, 0.8], [0.7, 0.6]], rtol=1e-6)


def test_crlf_suffixed_scorer_zero_triple_and_empty_cells():
    rec = dlc_io.read_pose_file(os.path.join(DATA, 'single_crlf_suffixed.csv'))
    assert rec.bodyparts == ['nose', 'tail_base']
    assert rec.num_frames == 4
    np.testing.assert_allclose(rec.xy[1, 0, 0], [110, 55])
    # frame 2: nose is the 0,0,0 triple; frame 3: nose cells are empty (NaN)
    assert rec.score[2, 0, 0] == 0 and np.isnan(rec.xy[2, 0, 0]).all()
    assert rec.score[3, 0, 0] == 0 and np.isnan(rec.xy[3, 0, 0]).all()
    assert rec.score[3, 0, 1] == pytest.approx(0.7)
    assert rec.extra['zero_triples'] == 1


def test_pandas_resaved_csv_with_leading_index_column(tmp_path):
    """``pd.read_csv(dlc_csv).to_csv(out)``, as users re-save files: a column of row numbers before DLC's own."""
    import pandas as pd
    original = write_single_csv(tmp_path / 'a.csv', ['nose', 'tail'],
                                [[1, 2, 0.9, 3, 4, 0.8], [5, 6, 0.7, 'oops', 8, 0.6]])
    resaved = tmp_path / 'resaved.csv'
    pd.read_csv(original).to_csv(resaved)
    assert open(resaved).readline().startswith(',scorer,')
    with pytest.raises(ValueError, match=r"non-numeric cell 'oops' at line 5, column 6 \(tail/x\)"):
        dlc_io.read_pose_file(resaved)
    good = write_single_csv(tmp_path / 'b.csv', ['nose', 'tail'], [[1, 2, 0.9, 3, 4, 0.8], [5, 6, 0.7, 7, 8, 0.6]])
    pd.read_csv(good).to_csv(resaved)
    rec = dlc_io.read_pose_file(resaved)
    expected = dlc_io.read_pose_file(good)
    assert rec.bodyparts == ['nose', 'tail'] and rec.num_frames == 2
    np.testing.assert_array_equal(rec.xy, expected.xy)
    np.testing.assert_array_equal(rec.score, expected.score)


def test_real_pandas_resaved_open_field_file():
    folder = os.path.join(SHARED, 'real-labelled', 'sturman_oft')
    if not os.path.isdir(folder):
        pytest.skip('../shared/real-labelled is absent')
    path = os.path.join(folder, '8_01_A_190507134142DeepCut_resnet50_Blockcourse1May9shuffle1_1030000.csv')
    rec = dlc_io.read_pose_file(path)
    assert rec.num_frames == 1998 and len(rec.bodyparts) == 18
    assert rec.bodyparts[:5] == ['tl', 'tr', 'bl', 'br', 'centre'] and rec.bodyparts[-1] == 'tailtip'
    np.testing.assert_allclose(rec.xy[0, 0, 0], [445.6327736377716, 277.7336497306824], rtol=1e-6)


def test_multi_animal_single_block_attach():
    rec = dlc_io.read_pose_file(os.path.join(DATA, 'ma_with_single.csv'), single='attach')
    assert rec.fmt == 'dlc-csv-4'
    assert rec.individuals == ['rat1', 'rat2']
    assert rec.bodyparts == ['nose', 'tail_base', 'corner']
    assert rec.xy.shape == (2, 2, 3, 2)
    # the unique bodypart is copied into every individual
    np.testing.assert_allclose(rec.xy[0, :, 2], [[5, 6], [5, 6]])
    np.testing.assert_allclose(rec.score[1, :, 2], [0.98, 0.98], rtol=1e-6)
    np.testing.assert_allclose(rec.xy[0, 1, 1], [70, 80])
    assert rec.score[1, 1, 0] == 0 and np.isnan(rec.xy[1, 1, 0]).all()   # rat2 nose missing


def test_multi_animal_single_block_drop():
    rec = dlc_io.read_pose_file(os.path.join(DATA, 'ma_with_single.csv'), single='drop')
    assert rec.bodyparts == ['nose', 'tail_base']
    assert rec.xy.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(rec.xy[0, 0], [[10, 20], [30, 40]])


def test_single_mode_is_checked(tmp_path):
    with pytest.raises(ValueError, match="single='keep' is not allowed; choose one of attach, drop"):
        dlc_io.read_pose_file(os.path.join(DATA, 'ma_with_single.csv'), single='keep')


def test_dlc_h5_table(tmp_path):
    pd = pytest.importorskip('pandas')
    pytest.importorskip('tables')
    columns = pd.MultiIndex.from_product([[SCORER], ['nose', 'tail'], ['x', 'y', 'likelihood']],
                                         names=['scorer', 'bodyparts', 'coords'])
    values = np.array([[1, 2, 0.9, 3, 4, 0.8], [np.nan, np.nan, np.nan, 7, 8, 0.6]])
    path = str(tmp_path / 'rec.h5')
    pd.DataFrame(values, columns=columns).to_hdf(path, key='df_with_missing', format='table')
    rec = dlc_io.read_pose_file(path)
    assert rec.fmt == 'dlc-h5' and rec.bodyparts == ['nose', 'tail']
    np.testing.assert_allclose(rec.xy[0, 0], [[1, 2], [3, 4]])
    assert rec.score[1, 0, 0] == 0 and rec.score[1, 0, 1] == pytest.approx(0.6)


def test_dlc_h5_multi_animal_other_key(tmp_path):
    pd = pytest.importorskip('pandas')
    pytest.importorskip('tables')
    columns = pd.MultiIndex.from_tuples(
        [(SCORER, ind, bp, co) for ind in ('m1', 'm2') for bp in ('nose',) for co in ('x', 'y', 'likelihood')],
        names=['scorer', 'individuals', 'bodyparts', 'coords'])
    path = str(tmp_path / 'rec.h5')
    pd.DataFrame([[1, 2, 0.9, 0, 0, 0]], columns=columns).to_hdf(path, key='tracks', format='table')
    rec = dlc_io.read_pose_file(path)
    assert rec.individuals == ['m1', 'm2'] and rec.bodyparts == ['nose']
    assert rec.score[0, 1, 0] == 0 and rec.score[0, 0, 0] == pytest.approx(0.9)


def test_sleap_analysis_h5(tmp_path):
    h5py = pytest.importorskip('h5py')
    n_tracks, n_nodes, n_frames = 2, 3, 4
    tracks = np.arange(n_tracks * 2 * n_nodes * n_frames, dtype=np.float64).reshape(
        n_tracks, 2, n_nodes, n_frames)
    tracks[1, :, 2, 3] = np.nan
    scores = np.full((n_tracks, n_nodes, n_frames), 0.75)
    path = str(tmp_path / 'sleap.analysis.h5')
    with h5py.File(path, 'w') as handle:
        handle['tracks'] = tracks
        handle['node_names'] = np.array([b'head', b'thorax', b'abdomen'])
        handle['point_scores'] = scores
        handle['track_names'] = np.array([b'fly_a', b'fly_b'])
    rec = dlc_io.read_pose_file(path)
    assert rec.fmt == 'sleap-h5'
    assert rec.bodyparts == ['head', 'thorax', 'abdomen'] and rec.individuals == ['fly_a', 'fly_b']
    assert rec.xy.shape == (n_frames, n_tracks, n_nodes, 2)
    # xy[t, i, v] = (tracks[i, 0, v, t], tracks[i, 1, v, t])
    np.testing.assert_allclose(rec.xy[2, 1, 1], [tracks[1, 0, 1, 2], tracks[1, 1, 1, 2]])
    assert rec.score[3, 1, 2] == 0 and rec.score[3, 1, 1] == pytest.approx(0.75)


# ------------------------------------------------------------------ refusals
def test_empty_file(tmp_path):
    path = tmp_path / 'empty.csv'
    path.write_text('')
    with pytest.raises(ValueError, match=r'empty\.csv: file is empty'):
        dlc_io.read_pose_file(str(path))


def test_header_without_rows(tmp_path):
    path = write_single_csv(tmp_path / 'h.csv', ['nose'], [])
    with pytest.raises(ValueError, match='has a DeepLabCut header but no data rows'):
        dlc_io.read_pose_file(path)


def test_non_numeric_cell_names_line_and_column(tmp_path):
    path = write_single_csv(tmp_path / 'bad.csv', ['nose', 'tail'],
                            [[1, 2, 0.9, 3, 4, 0.8], [5, 6, 0.7, 'oops', 8, 0.6]])
    with pytest.raises(ValueError) as info:
        dlc_io.read_pose_file(path)
    message = str(info.value)
    assert "bad.csv: non-numeric cell 'oops' at line 5, column 5 (tail/x)" in message


def test_wrong_header_depth(tmp_path):
    path = tmp_path / 'two.csv'
    path.write_text(f'scorer,{SCORER},{SCORER}\nbodyparts,nose,nose\n0,1,2\n')
    with pytest.raises(ValueError, match=r"two\.csv: wrong header: found 2 header row\(s\) starting with "
                                         r"'scorer', 'bodyparts'; expected 3 \(scorer, bodyparts, coords\)"):
        dlc_io.read_pose_file(str(path))
    five = tmp_path / 'five.csv'
    five.write_text(f'scorer,{SCORER}\nindividuals,a\nbodyparts,n\nextra,e\ncoords,x\n0,1\n')
    with pytest.raises(ValueError, match='found 5 header row'):
        dlc_io.read_pose_file(str(five))


def test_labeled_data_is_refused(tmp_path):
    path = tmp_path / 'CollectedData_Alice.csv'
    path.write_text('scorer,Alice,Alice\nbodyparts,nose,nose\ncoords,x,y\n'
                    'labeled-data/vid1/img001.png,10.5,20.5\n')
    with pytest.raises(ValueError, match=r'CollectedData_Alice\.csv: this is DeepLabCut labeled data'):
        dlc_io.read_pose_file(str(path))


def test_three_d_and_skeleton_outputs_are_refused(tmp_path):
    three_d = tmp_path / 'vid_DLC_3D.csv'
    three_d.write_text(f'scorer,{SCORER},{SCORER},{SCORER}\nbodyparts,n,n,n\ncoords,x,y,z\n0,1,2,3\n')
    with pytest.raises(ValueError, match='3-D output'):
        dlc_io.read_pose_file(str(three_d))
    skeleton = tmp_path / 'vid_skeleton.csv'
    skeleton.write_text(',a_b,a_b,a_b\n,length,orientation,likelihood\n0,1,2,0.9\n')
    with pytest.raises(ValueError, match='skeleton-analysis file'):
        dlc_io.read_pose_file(str(skeleton))


def test_missing_file():
    with pytest.raises(FileNotFoundError, match='nope.csv: no such file'):
        dlc_io.read_pose_file('nope.csv')


# ------------------------------------------------------------------ bodyparts
def test_select_bodyparts_reorders_and_names_missing(tmp_path):
    path = write_single_csv(tmp_path / 'a.csv', ['nose', 'tail'], [[1, 2, 0.9, 3, 4, 0.8]])
    rec = dlc_io.select_bodyparts(dlc_io.read_pose_file(path), ['tail', 'nose'])
    assert rec.bodyparts == ['tail', 'nose']
    np.testing.assert_allclose(rec.xy[0, 0], [[3, 4], [1, 2]])
    with pytest.raises(ValueError) as info:
        dlc_io.select_bodyparts(rec, ['nose', 'tial'])
    assert "a.csv: bodypart 'tial' is not in this file (did you mean 'tail'?)" in str(info.value)


def test_bodyparts_from_configs(tmp_path):
    single = tmp_path / 'config.yaml'
    single.write_text('bodyparts:\n- Hand\n- Finger1\nskeleton: [[Hand, Finger1]]\n')
    assert dlc_io.bodyparts_from_dlc_config(str(single)) == ['Hand', 'Finger1']
    multi = tmp_path / 'ma.yaml'
    multi.write_text('multianimalbodyparts:\n- b1\n- b2\nuniquebodyparts:\n- corner\nbodyparts: MULTI!\n')
    assert dlc_io.bodyparts_from_dlc_config(str(multi)) == ['b1', 'b2', 'corner']
    assert dlc_io.bodyparts_from_dlc_config(str(multi), include_unique=False) == ['b1', 'b2']
    bad = tmp_path / 'bad.yaml'
    bad.write_text('Task: x\n')
    with pytest.raises(ValueError, match=r'bad\.yaml: key "bodyparts" must be a non-empty list'):
        dlc_io.bodyparts_from_dlc_config(str(bad))


def test_frame_size_sources(tmp_path, caplog):
    path = write_single_csv(tmp_path / 'vidADLC_resnet50_x.csv', ['nose'], [[99.2, 49.5, 0.9]])
    rec = dlc_io.read_pose_file(path)
    assert dlc_io.frame_size(rec, 720, 540)[:2] == (720.0, 540.0)
    with caplog.at_level('WARNING'):
        w, h, origin = dlc_io.frame_size(rec)
    assert (w, h, origin) == (100.0, 100.0, 'coordinate range')  # square: the animal's proportions are kept
    assert 'frame size unknown' in caplog.text
    cv2 = pytest.importorskip('cv2')
    video = str(tmp_path / 'videos' / 'vidA.avi')
    os.makedirs(os.path.dirname(video))
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 10, (64, 48))
    for _ in range(2):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    w, h, origin = dlc_io.frame_size(rec, video_dir=os.path.dirname(video))
    assert (w, h) == (64.0, 48.0) and origin.startswith('video')
