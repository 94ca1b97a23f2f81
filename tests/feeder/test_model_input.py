"""feeder/model_input.py: the pose -> model input contract (gap filling, normalising, quantising, centring)."""
from __future__ import annotations

import numpy as np
import pytest

from feeder import dlc_io, model_input
from test_dlc_io import write_single_csv


def test_normalise_pcutoff_nan_and_zero_triple(tmp_path):
    path = write_single_csv(tmp_path / 'a.csv', ['nose', 'tail'],
                            [[72, 54, 0.9, 36, 27, 0.59], [0, 0, 0, '', '', 0.99]])
    rec = dlc_io.read_pose_file(path)
    pose, score = model_input.normalise_xy(rec.xy, rec.score, 720, 540, pcutoff=0.6)
    np.testing.assert_allclose(pose[0, 0, 0], [0.1, 0.1], rtol=1e-6)
    np.testing.assert_array_equal(pose[0, 0, 1], [0, 0])          # below pcutoff
    np.testing.assert_array_equal(pose[1, 0], np.zeros((2, 2)))   # zero triple, NaN cells
    np.testing.assert_allclose(score[:, 0], [[0.9, 0], [0, 0]], rtol=1e-6)
    pose, score = model_input.normalise_xy(rec.xy, rec.score, 720, 540, pcutoff=0.5)
    assert score[0, 0, 1] == pytest.approx(0.59)


def test_normalise_clips_points_outside_the_frame(tmp_path):
    path = write_single_csv(tmp_path / 'a.csv', ['nose'], [[800, 270, 0.9]])
    rec = dlc_io.read_pose_file(path)
    pose, _ = model_input.normalise_xy(rec.xy, rec.score, 720, 540)
    np.testing.assert_allclose(pose[0, 0, 0], [1.0, 0.5])


# ------------------------------------------------------------------ gap filling
def test_fill_gaps_interpolates_short_gaps_only():
    T = 12
    xy = np.zeros((T, 1, 2, 2), np.float32)
    xy[:, 0, 0, 0] = np.arange(T) * 10.0          # x moves 10 px a frame
    xy[:, 0, 1, 1] = 5.0
    score = np.full((T, 1, 2), 0.9, np.float32)
    score[3:5, 0, 0] = 0.1                         # a 2-frame gap: filled
    score[6, 0, 0] = np.nan                        # a 1-frame NaN gap: filled
    xy[6, 0, 0] = np.nan
    score[0:2, 0, 1] = 0.0                         # at the start: stays masked
    score[4:10, 0, 1] = 0.2                        # a 6-frame gap: longer than max_gap, stays masked
    score[2, 0, 0] = 0.7                           # so the interpolated scores lie between 0.7 and 0.9
    filled_xy, filled_score = model_input.fill_gaps(xy, score, pcutoff=0.6, max_gap=3)
    np.testing.assert_allclose(filled_xy[3:5, 0, 0, 0], [30.0, 40.0])
    np.testing.assert_allclose(filled_xy[6, 0, 0], [60.0, 0.0])
    np.testing.assert_allclose(filled_score[3:5, 0, 0], [0.7 + 0.2 / 3, 0.7 + 0.4 / 3], rtol=1e-6)
    np.testing.assert_allclose(filled_score[6, 0, 0], 0.9, rtol=1e-6)
    assert (filled_score[0:2, 0, 1] == 0).all() and (filled_score[4:10, 0, 1] == 0.2).all()
    assert score[3, 0, 0] == np.float32(0.1)       # the input is not modified
    untouched_xy, untouched_score = model_input.fill_gaps(xy, score, pcutoff=0.6, max_gap=0)
    np.testing.assert_array_equal(untouched_score, score)
    with pytest.raises(ValueError, match='--max_gap must be 0 or more'):
        model_input.fill_gaps(xy, score, 0.6, -1)


def test_prepare_pose_reports_masked_fractions():
    xy = np.full((10, 1, 1, 2), 50.0, np.float32)
    score = np.full((10, 1, 1), 0.9, np.float32)
    score[2:4] = 0.0       # filled (2 frames)
    score[6:10] = 0.0      # at the end: stays masked
    prepared = model_input.prepare_pose(xy, score, 100, 100, pcutoff=0.6, max_gap=5)
    assert (prepared.masked_before, prepared.masked_after) == (pytest.approx(0.6), pytest.approx(0.4))
    assert prepared.describe() == '60.0% of points masked, 40.0% after filling gaps'
    np.testing.assert_allclose(prepared.pose[2, 0, 0], [0.5, 0.5])
    np.testing.assert_allclose(prepared.xy[2, 0, 0], [50.0, 50.0])
    assert (prepared.score[6:] == 0).all() and (prepared.pose[6:] == 0).all()


# ------------------------------------------------------------------ the model array
def test_model_array_centres_masks_and_quantises():
    pose = np.array([[[[0.123456, 0.75]], [[0.3, 0.4]]]], np.float32)   # (T=1, I=2, V=1, 2)
    score = np.array([[[0.987654], [0.0]]], np.float32)                  # (T, I, V)
    data = model_input.model_array(pose, score)
    assert data.shape == (3, 1, 1, 2) and data.dtype == np.float32
    assert data[0, 0, 0, 0] == np.float32(0.12346 - 0.5)
    assert data[1, 0, 0, 0] == np.float32(0.25)
    assert data[2, 0, 0, 0] == np.float32(0.98765)
    np.testing.assert_array_equal(data[:, 0, 0, 1], [0, 0, 0])           # score 0: x = y = 0


def test_spec_round_trip_and_unknown_key(tmp_path):
    spec = model_input.InputSpec(bodyparts=['a', 'b'], pcutoff=0.5, frame_size=[640.0, 480.0], fps=30.0,
                                 clip_len=64, num_person=1, transform={'normalize': 'frame'},
                                 class_names=['x', 'y'])
    path = model_input.meta_path(str(tmp_path / 'train_data.npy'))
    assert path == str(tmp_path / 'train_meta.json')
    model_input.write_meta(path, spec)
    assert model_input.read_meta(str(tmp_path / 'train_data.npy')) == spec
    assert model_input.read_meta(str(tmp_path / 'val_data.npy')) is None
    with pytest.raises(ValueError, match="bad: unknown input spec key"):
        model_input.InputSpec.from_dict({'bodyparts': None, 'colour': 1}, 'bad')


# ------------------------------------------------------------------ frame rates
def test_resample_interpolates_visible_points_and_keeps_masks():
    T = 11                                                     # 10 fps, 1 s
    xy = np.zeros((T, 1, 2, 2), np.float32)
    xy[:, 0, 0, 0] = np.arange(T) * 10.0                       # 100 px/s
    score = np.full((T, 1, 2), 0.9, np.float32)
    score[4:7, 0, 1] = 0.0                                     # masked from 0.4 s to 0.6 s
    out_xy, out_score = model_input.resample(xy, score, 10.0, 25.0)
    assert len(out_xy) == 26                                   # 0 to 1 s at 25 fps
    np.testing.assert_allclose(out_xy[:, 0, 0, 0], np.arange(26) * 4.0, rtol=1e-5)   # still 100 px/s
    times = np.arange(26) / 25.0
    masked = out_score[:, 0, 1] == 0
    assert masked[(times > 0.36) & (times < 0.64)].all() and not masked[(times < 0.3) | (times > 0.7)].any()
    assert np.isnan(out_xy[masked, 0, 1]).all()
    same_xy, same_score = model_input.resample(xy, score, 30.0, 30.0)
    assert same_xy is xy and same_score is score
    labels = np.array([0, 0, 1, 1, 1, -1])
    np.testing.assert_array_equal(model_input.resample_labels(labels, 50.0, 25.0), [0, 1, 1])


def test_load_recording_resamples_and_renames(tmp_path):
    path = write_single_csv(tmp_path / 'r.csv', ['Nose', 'Tail'], [[i, i, 0.9, 2 * i, 0, 0.9] for i in range(50)])
    recording = model_input.load_recording(path, bodyparts=['tail', 'nose'], width=100, height=100, fps=50,
                                           target_fps=25, rename={'Nose': 'nose', 'Tail': 'tail'})
    assert recording.rec.bodyparts == ['tail', 'nose'] and recording.resampled
    assert len(recording.prepared.pose) == 25 and recording.fps == 25
    np.testing.assert_allclose(recording.prepared.pose[1, 0, 1], [0.02, 0.02], rtol=1e-5)   # frame 2 of 50 fps
    np.testing.assert_allclose(recording.source_positions()[:3], [0, 0.5, 1.0])
    with pytest.raises(ValueError, match=r"resampling to 25 fps needs the recording's frame rate"):
        model_input.load_recording(path, width=100, height=100, target_fps=25)
    with pytest.raises(ValueError, match='renaming the bodyparts gives one name twice'):
        model_input.load_recording(path, width=100, height=100, rename={'Nose': 'Tail'})
