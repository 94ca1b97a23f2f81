"""A SLEAP .slp and an NWB pose file through csv2json and main.py demo (and demo's ethogram written back into NWB).
The files are written by the tests with sleap-io and pynwb (requirements-dev.txt); without them the tests skip."""
import csv
import glob
import json

import pytest
import torch

import main as main_module
from net.st_gcn import Model
from test_pose_formats import _read_table, write_pose_nwb, write_tracked_slp
from tools import csv2json

LAYOUT = {'num_node': 3, 'edges': [[0, 1], [1, 2]], 'center': 1}
MODEL = ['--model', 'net.st_gcn.Model', '--model_args', 'in_channels=3', 'num_class=2',
         f"graph_args={{'layout': {LAYOUT}, 'strategy': 'spatial'}}"]


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / 'three_nodes.pt'
    torch.save(Model(3, 2, {'layout': LAYOUT, 'strategy': 'spatial'}).state_dict(), path)
    return str(path)


def _rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_a_slp_file_goes_through_csv2json_and_demo(tmp_path, weights):
    sio = pytest.importorskip('sleap_io')
    folder = tmp_path / 'poses'
    folder.mkdir()
    import numpy as np
    skeleton = sio.Skeleton(nodes=['nose', 'neck', 'tail'])
    video = sio.Video(filename='session.mp4', open_backend=False)
    track = sio.Track(name='mouse')
    frames = [sio.LabeledFrame(video=video, frame_idx=t, instances=[sio.PredictedInstance.from_numpy(
        np.array([[100 + t, 50], [110 + t, 52], [120 + t, 54]], float), skeleton=skeleton,
        point_scores=np.full(3, 0.9), score=0.9, track=track)]) for t in range(40)]
    sio.save_slp(sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton], tracks=[track]),
                 str(folder / 'session.slp'))
    assert csv2json.main(['--input', str(folder), '--label', 'walk', '--output', str(tmp_path / 'json'),
                          '--width', '640', '--height', '480', '--clip_len', '16', '--stride', '16',
                          '--log_level', 'WARNING']) == 0
    clips = sorted(glob.glob(str(tmp_path / 'json' / 'walk__session__*.json')))
    assert len(clips) == 3                                  # 16 + 16 + the last 8 frames (half a clip)
    with open(clips[0]) as handle:
        clip = json.load(handle)
    assert clip['bodyparts'] == ['nose', 'neck', 'tail'] and clip['source']['individual_names'] == ['mouse']
    assert main_module.main(['demo', *MODEL, '--weights', weights, '--input', str(folder / 'session.slp'), '-w',
                             str(tmp_path / 'demo'), '--window', '16', '--width', '640', '--height', '480']) == 0
    rows = _rows(tmp_path / 'demo' / 'session' / 'ethogram.csv')
    assert len(rows) == 40 and {row['individual'] for row in rows} == {'mouse'}


def test_an_nwb_file_goes_through_csv2json_and_demo_and_its_ethogram_back_into_nwb(tmp_path, weights):
    pytest.importorskip('pynwb')
    folder = tmp_path / 'poses'
    folder.mkdir()
    path = write_pose_nwb(folder / 'session.nwb', animals=('rat1',), frames=40, rate=25.0)
    assert csv2json.main(['--input', str(folder), '--label', 'walk', '--output', str(tmp_path / 'json'),
                          '--bodyparts', 'nose', 'neck', 'tail', '--clip_len', '16', '--stride', '16',
                          '--log_level', 'WARNING']) == 0
    clips = sorted(glob.glob(str(tmp_path / 'json' / 'walk__session__*.json')))
    with open(clips[0]) as handle:
        clip = json.load(handle)
    assert clip['frame_size'] == [640.0, 480.0] and clip['input']['fps'] == 25.0   # both stated by the file
    work = tmp_path / 'demo'
    assert main_module.main(['demo', *MODEL, '--weights', weights, '--input', path, '-w', str(work), '--window',
                             '16', '--bodyparts', 'nose', 'neck', 'tail', '--nwb', 'true']) == 0
    rows = _rows(work / 'session' / 'ethogram.csv')
    assert len(rows) == 40 and rows[25]['time_s'] == '1.000'                        # the file's 25 fps
    table, has_pose = _read_table(str(work / 'session' / 'ethogram.nwb'), 'behavior_labels')
    assert has_pose                                                                  # a copy of the pose file
    bouts = _rows(work / 'session' / 'bouts.csv')
    assert len(table['label']) == len(bouts) and list(table['start_frame']) == [int(b['start_frame']) for b in bouts]
    assert table['start_time'][0] == pytest.approx(10.0)                             # the pose timestamps' start
