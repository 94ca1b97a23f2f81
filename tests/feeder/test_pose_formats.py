"""feeder.pose_formats: SLEAP .slp (sleap-io) and NWB/ndx-pose (pynwb) pose files, read through the pose reader of
the pipeline; LightningPose CSVs; Anipose 3-D refused; ethograms written into NWB; the install line when an optional
package is missing. The .slp and .nwb files are written by the tests with sleap-io and pynwb themselves."""
from __future__ import annotations

import datetime
import os
import sys

import h5py
import numpy as np
import pytest

from feeder import dlc_io, model_input, pose_formats

BODYPARTS = ['nose', 'neck', 'tail']


# ------------------------------------------------------------------ SLEAP .slp
def _points(frame: int, animal: int) -> np.ndarray:
    """(3, 2) pixels that encode where they belong: x = 100 * animal + 10 * node + frame, y = x + 1."""
    x = 100.0 * animal + 10.0 * np.arange(3) + frame
    return np.stack([x, x + 1], axis=1)


def write_tracked_slp(path, sio):
    """Frames 0-4 of video A: two tracks, predicted; frame 2 also has a user-labelled 'b' (points + 0.5); frame 3
    has no 'a'; frame 1 has its neck not visible; frame 6 is labelled (5 is not). Video B: one frame."""
    skeleton = sio.Skeleton(nodes=list(BODYPARTS), edges=[('nose', 'neck'), ('neck', 'tail')])
    videos = [sio.Video(filename='sessionA.mp4', open_backend=False),
              sio.Video(filename='sessionB.mp4', open_backend=False)]
    tracks = [sio.Track(name='a'), sio.Track(name='b')]
    frames = []
    for t in (0, 1, 2, 3, 4, 6):
        instances = []
        for k, track in enumerate(tracks):
            if t == 3 and k == 0:
                continue
            points = _points(t, k)
            if t == 1 and k == 0:
                points[1] = np.nan
            instances.append(sio.PredictedInstance.from_numpy(points, skeleton=skeleton,
                                                              point_scores=np.array([0.9, 0.8, 0.7]) - 0.1 * k,
                                                              score=0.95 - 0.1 * k, track=track))
        if t == 2:
            instances.append(sio.Instance.from_numpy(_points(t, 1) + 0.5, skeleton=skeleton, track=tracks[1]))
        frames.append(sio.LabeledFrame(video=videos[0], frame_idx=t, instances=instances))
    frames.append(sio.LabeledFrame(video=videos[1], frame_idx=0, instances=[
        sio.PredictedInstance.from_numpy(_points(0, 0), skeleton=skeleton, point_scores=np.ones(3), score=1.0,
                                         track=tracks[0])]))
    labels = sio.Labels(labeled_frames=frames, videos=videos, skeletons=[skeleton], tracks=tracks)
    sio.save_slp(labels, str(path))
    return str(path)


def test_slp_tracks_nodes_scores_and_user_instances(tmp_path):
    sio = pytest.importorskip('sleap_io')
    path = write_tracked_slp(tmp_path / 'session.slp', sio)
    with pytest.raises(ValueError, match=r'holds frames of 2 videos \(0: sessionA.mp4, 1: sessionB.mp4\).*'
                                         r'read_slp\(path, video=K\)'):
        dlc_io.read_pose_file(path)
    rec = pose_formats.read_slp(path, video='sessionA')
    assert rec.fmt == 'slp' and rec.bodyparts == BODYPARTS and rec.individuals == ['a', 'b']
    assert rec.xy.shape == (7, 2, 3, 2) and rec.xy.dtype == np.float32 and rec.score.shape == (7, 2, 3)
    np.testing.assert_allclose(rec.xy[4, 1], _points(4, 1))
    np.testing.assert_allclose(rec.score[0], [[0.9, 0.8, 0.7], [0.8, 0.7, 0.6]], rtol=1e-6)
    # frame 2: the user-labelled 'b' wins over the prediction of the same track, with score 1
    np.testing.assert_allclose(rec.xy[2, 1], _points(2, 1) + 0.5)
    assert (rec.score[2, 1] == 1).all() and rec.extra['user_labelled'][2, 1] and not rec.extra['user_labelled'][2, 0]
    assert np.isnan(rec.extra['instance_score'][2, 1]) and rec.extra['instance_score'][0, 0] == pytest.approx(0.95)
    # missing: a node not visible, an absent instance, an unlabelled frame
    assert np.isnan(rec.xy[1, 0, 1]).all() and rec.score[1, 0, 1] == 0 and rec.score[1, 0, 0] > 0
    assert np.isnan(rec.xy[3, 0]).all() and (rec.score[3, 0] == 0).all()
    assert np.isnan(rec.xy[5]).all() and (rec.score[5] == 0).all()
    other = pose_formats.read_slp(path, video=1)
    assert other.num_frames == 1 and other.individuals == ['a']
    with pytest.raises(ValueError, match=r"video='nope' is none of the project's videos"):
        pose_formats.read_slp(path, video='nope')


def test_slp_untracked_instances_are_slots_in_frame_order(tmp_path):
    sio = pytest.importorskip('sleap_io')
    skeleton = sio.Skeleton(nodes=list(BODYPARTS))
    video = sio.Video(filename='v.mp4', open_backend=False)
    frames = []
    for t in range(3):
        first = sio.PredictedInstance.from_numpy(_points(t, 0), skeleton=skeleton, point_scores=np.full(3, 0.5))
        second = sio.PredictedInstance.from_numpy(_points(t, 1), skeleton=skeleton, point_scores=np.full(3, 0.6))
        instances = [first, second]
        if t == 1:  # a user instance corrected from the first prediction replaces it
            instances.append(sio.Instance.from_numpy(_points(t, 0) + 0.25, skeleton=skeleton, from_predicted=first))
        frames.append(sio.LabeledFrame(video=video, frame_idx=t, instances=instances))
    path = str(tmp_path / 'untracked.slp')
    sio.save_slp(sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton]), path)
    rec = dlc_io.read_pose_file(path)
    assert rec.individuals == ['instance0', 'instance1'] and rec.num_frames == 3
    np.testing.assert_allclose(rec.xy[0, 1], _points(0, 1))
    np.testing.assert_allclose(rec.xy[1, 0], _points(1, 1))          # the kept prediction, then the user instance
    np.testing.assert_allclose(rec.xy[1, 1], _points(1, 0) + 0.25)
    assert (rec.score[1, 1] == 1).all()


def test_slp_goes_through_the_pipeline_input_preparation(tmp_path):
    sio = pytest.importorskip('sleap_io')
    path = write_tracked_slp(tmp_path / 'session.slp', sio)
    one = tmp_path / 'one.slp'
    labels = sio.load_slp(path)
    keep = [lf for lf in labels.labeled_frames if lf.video is labels.videos[0]]
    sio.save_slp(sio.Labels(labeled_frames=keep, videos=[labels.videos[0]], skeletons=labels.skeletons,
                            tracks=labels.tracks), str(one))
    recording = model_input.load_recording(str(one), bodyparts=['tail', 'nose'], width=640, height=480)
    assert recording.rec.bodyparts == ['tail', 'nose'] and recording.model_array().shape == (3, 7, 2, 2)


# ------------------------------------------------------------------ NWB / ndx-pose
def write_pose_nwb(path, animals=('rat1', 'rat2'), frames=6, start=10.0, rate=25.0, three_d=False):
    """One PoseEstimation per animal, named after it, series nose/neck/tail in the skeleton's order (tail, neck,
    nose), timestamps from ``start`` at ``rate``, the 640x480 source video linked; the first animal's skeleton
    links the file's subject (R1); the neck of the first animal is NaN in frame 2."""
    pynwb = pytest.importorskip('pynwb')
    ndx_pose = pytest.importorskip('ndx_pose')
    from pynwb.file import Subject
    from pynwb.image import ImageSeries
    nwbfile = pynwb.NWBFile(session_description='test', identifier='test-id',
                            session_start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
                            subject=Subject(subject_id='R1'))
    video = ImageSeries(name='video', description='camera', unit='n/a', format='external',
                        external_file=['session.mp4'], starting_frame=[0], dimension=[640, 480], rate=rate,
                        num_samples=frames)
    nwbfile.add_acquisition(video)
    module = nwbfile.create_processing_module(name='behavior', description='poses')
    timestamps = start + np.arange(frames) / rate
    skeletons = []
    for a, animal in enumerate(animals):
        skeleton = ndx_pose.Skeleton(name=f'{animal}_skeleton', nodes=['tail', 'neck', 'nose'],
                                     edges=np.array([[0, 1], [1, 2]], dtype='uint8'),
                                     subject=nwbfile.subject if a == 0 else None)
        skeletons.append(skeleton)
        series = []
        for v, name in enumerate(['tail', 'neck', 'nose']):
            data = np.stack([100.0 * a + 10 * v + np.arange(frames), np.full(frames, 5.0 + v)], axis=1)
            if three_d:
                data = np.concatenate([data, np.zeros((frames, 1))], axis=1)
            if a == 0 and name == 'neck':
                data[2] = np.nan
            series.append(ndx_pose.PoseEstimationSeries(
                name=name, description=name, data=data, unit='pixels', reference_frame='top left',
                timestamps=timestamps if not series else series[0], confidence=np.full(frames, 0.9 - 0.1 * a),
                confidence_definition='likelihood'))
        module.add(ndx_pose.PoseEstimation(name=animal, pose_estimation_series=series, description='test',
                                           skeleton=skeleton, source_video=video, source_software='DeepLabCut'))
    module.add(ndx_pose.Skeletons(skeletons=skeletons))
    with pynwb.NWBHDF5IO(str(path), mode='w') as io:
        io.write(nwbfile)
    return str(path)


def test_nwb_pose_estimation_containers_are_individuals(tmp_path):
    path = write_pose_nwb(tmp_path / 'session.nwb')
    with h5py.File(path, 'r') as handle:
        assert 'nwb_version' in handle.attrs
    rec = dlc_io.read_pose_file(path)
    assert rec.fmt == 'nwb' and rec.individuals == ['R1', 'rat2'] and rec.bodyparts == ['tail', 'neck', 'nose']
    assert rec.xy.shape == (6, 2, 3, 2)
    np.testing.assert_allclose(rec.xy[4, 1, 2], [124, 7])
    assert np.isnan(rec.xy[2, 0, 1]).all() and rec.score[2, 0, 1] == 0
    np.testing.assert_allclose(rec.score[0, :, 0], [0.9, 0.8], rtol=1e-6)
    assert rec.extra['fps'] == pytest.approx(25.0) and rec.extra['timestamps'][0] == pytest.approx(10.0)
    assert rec.extra['frame_size'] == (640.0, 480.0) and rec.extra['nwb_module'] == 'behavior'


def test_nwb_refusals(tmp_path):
    with pytest.raises(ValueError, match=r'holds 3-D poses \(x, y, z\); only 2-D'):
        dlc_io.read_pose_file(write_pose_nwb(tmp_path / 'three_d.nwb', three_d=True))
    pynwb = pytest.importorskip('pynwb')
    empty = str(tmp_path / 'empty.nwb')
    with pynwb.NWBHDF5IO(empty, mode='w') as io:
        io.write(pynwb.NWBFile(session_description='x', identifier='x',
                               session_start_time=datetime.datetime.now(datetime.timezone.utc)))
    with pytest.raises(ValueError, match=r'holds no ndx-pose PoseEstimation \(processing modules: none\)'):
        dlc_io.read_pose_file(empty)


def _read_table(path, name):
    pynwb = pytest.importorskip('pynwb')
    with pynwb.NWBHDF5IO(path, mode='r', load_namespaces=True) as io:
        nwbfile = io.read()
        table = nwbfile.intervals[name].to_dataframe()
        has_pose = 'behavior' in nwbfile.processing
    return table, has_pose


def test_ethogram_into_a_copy_of_the_pose_nwb_and_into_a_new_file(tmp_path):
    source = write_pose_nwb(tmp_path / 'session.nwb')
    tracks = [{'individual': 'R1', 'bouts': [(1, 0, 2, 0.8), (0, 3, 5, 0.6)]},
              {'individual': 'rat2', 'bouts': [(1, 0, 5, 0.7)]}]
    bouts = pose_formats.bouts_from_tracks(tracks, ['rest', 'walk'])
    out = pose_formats.write_ethogram_nwb(tmp_path / 'labelled.nwb', bouts, ['rest', 'walk'], None, source_nwb=source)
    table, has_pose = _read_table(out, 'behavior_labels')
    assert has_pose and len(table) == 3
    first = table[(table.individual == 'R1') & (table.label == 'walk')].iloc[0]
    # times are the pose timestamps (from 10 s at 25 fps); a bout ends where its last frame ends
    assert first.start_time == pytest.approx(10.0) and first.stop_time == pytest.approx(10.12)
    assert (first.start_frame, first.end_frame) == (0, 2) and first.mean_confidence == pytest.approx(0.8)
    last = table[(table.individual == 'R1') & (table.label == 'rest')].iloc[0]
    assert last.stop_time == pytest.approx(10.0 + 6 / 25)
    import pandas as pd   # bouts.csv of main.py demo, read with pandas, goes in as it is
    frame = pd.DataFrame([{**b, 'duration_frames': b['end_frame'] - b['start_frame'] + 1} for b in bouts])
    new = pose_formats.write_ethogram_nwb(tmp_path / 'new.nwb', frame, ['rest', 'walk'], 30.0)
    table, has_pose = _read_table(new, 'behavior_labels')
    assert not has_pose and table.start_time.min() == 0 and table.stop_time.max() == pytest.approx(0.2)
    with pytest.raises(ValueError, match='already has an intervals table'):
        pose_formats.write_ethogram_nwb(tmp_path / 'again.nwb', bouts, ['rest', 'walk'], None, source_nwb=out)
    with pytest.raises(ValueError, match='is the source NWB file'):
        pose_formats.write_ethogram_nwb(source, bouts, ['rest', 'walk'], None, source_nwb=source)
    with pytest.raises(ValueError, match=r"label 'run' is not one of rest, walk"):
        pose_formats.write_ethogram_nwb(tmp_path / 'bad.nwb', [{'label': 'run', 'start_frame': 0, 'end_frame': 1}],
                                        ['rest', 'walk'], 30.0)


# ------------------------------------------------------------------ LightningPose, Anipose
def test_lightning_pose_predictions_csv(tmp_path):
    """LightningPose writes a DataFrame with (scorer, bodyparts, coords) columns, scorer '<model_type>_tracker',
    with pandas' to_csv: a DeepLabCut-style CSV with a frame-number index."""
    import pandas as pd
    columns = pd.MultiIndex.from_product([['heatmap_tracker'], BODYPARTS, ['x', 'y', 'likelihood']],
                                         names=['scorer', 'bodyparts', 'coords'])
    values = np.array([[10 * v + t, 20 * v + t, 0.9] for t in range(4) for v in range(3)]).reshape(4, 9)
    path = str(tmp_path / 'session.csv')
    pd.DataFrame(values, columns=columns).to_csv(path)
    rec = dlc_io.read_pose_file(path)
    assert rec.fmt == 'dlc-csv-3' and rec.bodyparts == BODYPARTS and rec.individuals == ['animal']
    np.testing.assert_allclose(rec.xy[3, 0, 2], [23, 43])
    np.testing.assert_allclose(rec.score[:, 0], 0.9, rtol=1e-6)


def test_anipose_3d_csv_is_refused(tmp_path):
    header = [f'{bp}_{c}' for bp in BODYPARTS for c in ('x', 'y', 'z', 'error', 'ncams', 'score')]
    header += [f'M_{i}{j}' for i in range(3) for j in range(3)] + ['center_0', 'center_1', 'center_2', 'fnum']
    path = tmp_path / 'session.csv'
    path.write_text(','.join(header) + '\n' + ','.join(['1.5'] * len(header)) + '\n')
    with pytest.raises(ValueError, match=r'Anipose 3-D output \(triangulated .*pose-2d-filtered'):
        dlc_io.read_pose_file(str(path))


# ------------------------------------------------------------------ without the optional packages
def _hide(monkeypatch, *names):
    """Make ``names`` (and their submodules) fail to import, as when they are not installed."""
    for name in list(sys.modules):
        if name.split('.')[0] in names:
            monkeypatch.delitem(sys.modules, name)
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def test_missing_package_names_the_install_line(tmp_path, monkeypatch):
    slp = str(tmp_path / 'project.slp')
    with h5py.File(slp, 'w') as handle:      # SLEAP's layout, enough to be recognised
        handle.create_group('metadata').attrs['format_id'] = 1.2
        handle['frames'] = np.zeros(1)
        handle['instances'] = np.zeros(1)
    nwb = str(tmp_path / 'session.nwb')
    with h5py.File(nwb, 'w') as handle:
        handle.attrs['nwb_version'] = '2.8.0'
    _hide(monkeypatch, 'sleap_io', 'pynwb', 'ndx_pose')
    with pytest.raises(ValueError) as info:
        dlc_io.read_pose_file(slp)
    assert str(info.value) == (f'{slp}: is a SLEAP project file (.slp); reading it needs the sleap_io package: '
                               'pip install "st-gcn[sleap]" (or: pip install sleap-io)')
    with pytest.raises(ValueError, match=r'is an NWB file; reading it needs the pynwb package: pip install '
                                         r'"st-gcn\[nwb\]" \(or: pip install pynwb ndx-pose\)'):
        dlc_io.read_pose_file(nwb)


def test_folder_scans_include_slp_and_nwb(tmp_path):
    from tools import csv2json
    for name in ('a.csv', 'b.slp', 'c.nwb', 'd.h5', 'notes.txt'):
        (tmp_path / name).write_text('')
    assert [os.path.basename(p) for p in csv2json.pose_files_of([str(tmp_path)])] == ['a.csv', 'b.slp', 'c.nwb',
                                                                                       'd.h5']
