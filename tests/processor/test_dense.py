"""The per-frame (dense) model through the pipeline: clips cut anywhere with every frame's label, a dense feeder
whose augmentations move the labels with the frames, training on labelled frames only, and demo stitching windows
into a per-frame ethogram scored against the human labels."""
import json
import os

import numpy as np
import pytest

import main as main_module
from conftest import make_separable_arrays, write_dataset
from feeder.feeder import Feeder
from processor.checkpoint import read_model_file
from tools import csv2json, gen_trainDataset, kinetics_gendata
from tools.make_sample_data import make_sample

DENSE_ARGS = ['--model', 'net.st_gcn_dense.Model', '--model_args', 'in_channels=3', 'num_class=2', 'head_layers=3',
              "graph_args={'layout': 'rat', 'strategy': 'spatial'}"]


def _stitched(sample, folder, name, order):
    """A recording stitched from 60-frame pieces of sample recordings of the behaviours in ``order``, and its
    per-frame labels (frame,label)."""
    from feeder import dlc_io
    from tools.make_sample_data import dlc_csv_text
    parts = []
    for behaviour in order:
        rec = dlc_io.read_pose_file(next(p for p in sample['csv'] if behaviour in p))
        parts.append(np.concatenate([rec.xy, rec.score[..., None]], axis=-1)[:60, 0])   # (60, V, 3)
    (folder / f'{name}DLC_test.csv').write_text(dlc_csv_text(np.concatenate(parts).astype(np.float32), 'DLC_test',
                                                             rec.bodyparts))
    labels = ''.join(f'{60 * i + t},{behaviour}\n' for i, behaviour in enumerate(order) for t in range(60))
    (folder / f'{name}_labels.csv').write_text('frame,label\n' + labels)


@pytest.fixture(scope='module')
def dense_run(tmp_path_factory):
    root = tmp_path_factory.mktemp('dense')
    sample = make_sample(str(root / 'sample'), recordings=2, abnormal=0, frames=120)
    recordings = root / 'recordings'
    recordings.mkdir()
    _stitched(sample, recordings, 'train', ['rearing', 'walking', 'rearing', 'walking'])
    _stitched(sample, recordings, 'test', ['walking', 'rearing', 'walking'])
    assert csv2json.main(['--input', str(recordings), '--annotations', str(recordings), '--output', str(root / 'json'),
                          '--width', '640', '--height', '480', '--fps', '30', '--clip_len', '48', '--stride', '12',
                          '--cut', 'anywhere', '--classes', 'rearing', 'walking', '--log_level', 'WARNING']) == 0
    dataset = root / 'dataset'
    assert gen_trainDataset.main(['--input', str(root / 'json'), '--output', str(dataset), '--val_recordings',
                                  'testDLC_test', '--log_level', 'WARNING']) == 0
    assert kinetics_gendata.main(['--data_path', str(dataset), '--out_folder', str(dataset), '--max_frame', '48',
                                  '--num_person_out', '1', '--num_workers', '1']) == 0
    work = root / 'train'
    feeders = ['normalize=egocentric_clip', 'center_joint=spine', "heading_joints=['tail_base', 'neck']",
               'layout=rat', "channels=['xy_score']"]
    assert main_module.main(['recognition', '-w', str(work), *DENSE_ARGS,
                             '--train_feeder_args', f'data_path={dataset}/train_data.npy',
                             f'label_path={dataset}/train_label.pkl', *feeders,
                             '--test_feeder_args', f'data_path={dataset}/val_data.npy',
                             f'label_path={dataset}/val_label.pkl', *feeders,
                             '--num_epoch', '12', '--batch_size', '4', '--num_worker', '0', '--optimizer', 'Adam',
                             '--base_lr', '0.003', '--eval_interval', '12', '--save_interval', '12',
                             '--save_result', 'true', '--print_log', 'false']) == 0
    return {'root': root, 'dataset': dataset, 'work': work, 'recordings': recordings}


def test_clips_cut_anywhere_keep_every_frames_label(dense_run):
    dataset = dense_run['dataset']
    frame_labels = np.load(dataset / 'train_frame_label.npy')
    names, labels = __import__('feeder.feeder', fromlist=['read_label_pkl']).read_label_pkl(
        str(dataset / 'train_label.pkl'))
    assert frame_labels.shape == (len(names), 48) and frame_labels.dtype == np.int16
    # windows over the whole recording, transitions included: some clips hold both classes
    mixed = [row for row in frame_labels if len(set(row.tolist())) > 1]
    assert mixed and all(set(row.tolist()) <= {0, 1} for row in frame_labels)
    # each clip is named after the class of most of its frames
    assert all(label == np.bincount(row[row >= 0]).argmax() for row, label in zip(frame_labels, labels))


def test_the_dense_feeder_moves_labels_with_the_frames(tmp_path):
    data, _ = make_separable_arrays(4, 2, 16, 12, seed=3)
    data[:, 0, :, 0, 0] = np.arange(16)[None, :] / 100.0                # joint 0's x encodes the frame
    train = write_dataset(tmp_path, 'train', data, [0, 1, 0, 1])
    frame_labels = np.tile(np.arange(16, dtype=np.int16) % 2, (4, 1))
    frame_labels[:, 12:] = -1                                            # unlabelled frames
    np.save(tmp_path / 'train_frame_label.npy', frame_labels)
    feeder = Feeder(*train, dense=True, random_choose=True, window_size=8, random_shift=True)
    np.random.seed(0)
    for index in range(4):
        clip, labels = feeder[index]
        assert clip.shape[1] == 8 and labels.shape == (8,) and labels.dtype == np.int64
        frames = np.rint(clip[0, :, 0, 0] * 100).astype(int)             # which original frame each is
        present = clip[2, :, 0, 0] > 0
        expected = np.where(frames < 12, frames % 2, -1)
        assert (labels[present] == expected[present]).all()
        assert (labels[~present] == -1).all()                            # padding is unlabelled
    with pytest.raises(FileNotFoundError, match='val_frame_label.npy: no per-frame labels for the dense model'):
        Feeder(*write_dataset(tmp_path, 'val', data, [0, 1, 0, 1]), dense=True)


def test_the_dense_model_trains_on_frames_and_labels_a_recording_frame_by_frame(dense_run, tmp_path):
    work = dense_run['work']
    log = (work / 'log.txt').read_text()
    assert 'Macro F1' in log and os.path.isfile(work / 'epoch12_model.pt')
    spec = read_model_file(str(work / 'epoch12_model.pt'))
    assert spec.model == 'net.st_gcn_dense.Model' and spec.input.class_names == ['rearing', 'walking']
    from torchlight import safe_load_pickle
    scores = safe_load_pickle(work / 'test_result.pkl')
    assert next(iter(scores.values())).shape == (2, 48)                 # per frame: (K, T) for each clip
    recordings = dense_run['recordings']
    out = tmp_path / 'demo'
    assert main_module.main(['demo', '--weights', str(work / 'epoch12_model.pt'), '--input',
                             str(recordings / 'testDLC_test.csv'), '--annotations',
                             str(recordings / 'test_labels.csv'), '-w', str(out), '--window', '48']) == 0
    result = json.loads((out / 'testDLC_test' / 'evaluation.json').read_text())
    assert result['frames_scored'] == 180
    assert result['accuracy'] > 0.6, result['accuracy']                # chance: 0.5 (and the data are easy)
