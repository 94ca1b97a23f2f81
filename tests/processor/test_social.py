"""Social behaviour end to end: two-animal maDLC files -> clips that keep both animals in their slots -> a pair model
-> demo labelling the pair (and, for files with more animals, every pair)."""
import csv
import os

import numpy as np
import pytest
import yaml

import main as main_module
from conftest import ROOT
from feeder import dlc_io
from feeder.feeder import Feeder
from processor.checkpoint import read_model_file
from tools import csv2json, gen_trainDataset, kinetics_gendata
from tools.make_sample_data import dlc_csv_text, make_social_sample

SOCIAL_CONFIG = os.path.join(ROOT, 'config', 'st_gcn', 'rat_social', 'train.yaml')


@pytest.fixture(scope='module')
def pair_model(tmp_path_factory):
    root = tmp_path_factory.mktemp('social')
    sample = make_social_sample(str(root / 'sample'), recordings=2, frames=96)
    assert csv2json.main(['--input', str(root / 'sample' / 'csv_data'), '--output', str(root / 'json'), '--width',
                          '640', '--height', '480', '--clip_len', '32', '--stride', '32', '--fps', '30',
                          '--log_level', 'WARNING']) == 0
    dataset = root / 'dataset'
    assert gen_trainDataset.main(['--input', str(root / 'json'), '--output', str(dataset), '--log_level',
                                  'WARNING']) == 0
    assert kinetics_gendata.main(['--data_path', str(dataset), '--out_folder', str(dataset), '--max_frame', '32',
                                  '--num_person_out', '2', '--num_workers', '1']) == 0
    work = root / 'train'
    assert main_module.main(['recognition', '-c', SOCIAL_CONFIG, '-w', str(work),
                             '--train_feeder_args', f'data_path={dataset}/train_data.npy',
                             f'label_path={dataset}/train_label.pkl',
                             '--test_feeder_args', f'data_path={dataset}/val_data.npy',
                             f'label_path={dataset}/val_label.pkl', '--num_epoch', '1', '--batch_size', '5',
                             '--num_worker', '0', '--label_names', str(dataset / 'classes.txt'),
                             '--print_log', 'false']) == 0
    return {'weights': str(work / 'epoch1_model.pt'), 'csv': sample['csv'], 'dataset': dataset, 'root': root}


def _individuals(path):
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    return [row['individual'] for row in rows]


def test_clips_keep_both_animals_in_their_slots(pair_model):
    dataset = pair_model['dataset']
    data = np.load(dataset / 'train_data.npy')
    assert data.shape[1:] == (3, 32, 12, 2)
    assert (data[:, 2, :, :, 1] > 0).mean() > 0.5              # the second animal is there, not an empty slot
    spec = read_model_file(pair_model['weights']).input
    with open(SOCIAL_CONFIG) as handle:
        normalize = yaml.safe_load(handle)['test_feeder_args']['normalize']
    assert normalize == 'egocentric_pair'                      # the pair's frame: measured best on the sample
    assert spec.num_person == 2 and spec.transform['normalize'] == normalize
    assert 'random_individual_order' not in spec.transform    # an augmentation: training only
    feeder = Feeder(data_path=str(dataset / 'val_data.npy'), label_path=str(dataset / 'val_label.pkl'),
                    **spec.transform)
    sample, _ = feeder[0]
    # the pair's frame: the spines' mean positions lie on the x axis, symmetric about the origin, the first animal
    # on the negative side, one mean body length (about 1) or more apart
    spine = 6
    seen = sample[2, :, spine, :] > 0
    x = [sample[0, seen[:, m], spine, m].mean() for m in (0, 1)]
    y = [sample[1, seen[:, m], spine, m].mean() for m in (0, 1)]
    assert x[0] < -0.25 and x[1] > 0.25 and abs(x[0] + x[1]) < 0.1 * (x[1] - x[0])
    assert max(abs(y[0]), abs(y[1])) < 0.1 * (x[1] - x[0])


def test_demo_labels_the_pair_and_each_focal_animal(pair_model, tmp_path):
    recording = pair_model['csv'][0]
    name = os.path.splitext(os.path.basename(recording))[0]
    assert main_module.main(['demo', '--weights', pair_model['weights'], '--input', recording, '-w',
                             str(tmp_path / 'pair'), '--window', '32']) == 0
    individuals = _individuals(tmp_path / 'pair' / name / 'ethogram.csv')
    assert len(individuals) == 96 and set(individuals) == {'rat1+rat2'}
    assert main_module.main(['demo', '--weights', pair_model['weights'], '--input', recording, '-w',
                             str(tmp_path / 'each'), '--window', '32', '--focal', 'each']) == 0
    individuals = _individuals(tmp_path / 'each' / name / 'ethogram.csv')
    assert len(individuals) == 192 and individuals[0] == 'rat1+rat2' and individuals[-1] == 'rat2+rat1'
    assert main_module.main(['demo', '--weights', pair_model['weights'], '--input', recording, '-w',
                             str(tmp_path / 'average'), '--window', '32', '--focal', 'average']) == 0
    assert set(_individuals(tmp_path / 'average' / name / 'ethogram.csv')) == {'rat1+rat2'}


def test_a_file_with_three_animals_is_labelled_pair_by_pair(pair_model, tmp_path):
    rec = dlc_io.read_pose_file(pair_model['csv'][0])
    frames = np.concatenate([rec.xy, rec.score[..., None]], axis=-1)              # (T, 2, V, 3)
    third = frames[:, :1].copy()
    third[..., 0] = 640 - third[..., 0]                                           # a mirrored third animal
    path = tmp_path / 'trioDLC_test.csv'
    path.write_text(dlc_csv_text(np.concatenate([frames, third], axis=1).astype(np.float32), 'DLC_test',
                                 rec.bodyparts, individuals=['rat1', 'rat2', 'rat3']))
    assert main_module.main(['demo', '--weights', pair_model['weights'], '--input', str(path), '-w',
                             str(tmp_path / 'w'), '--window', '32']) == 0
    individuals = _individuals(tmp_path / 'w' / 'trioDLC_test' / 'ethogram.csv')
    assert sorted(set(individuals)) == ['rat1+rat2', 'rat1+rat3', 'rat2+rat3'] and len(individuals) == 3 * 96
    log = (tmp_path / 'w' / 'log.txt').read_text()
    assert 'trioDLC_test: 3 individuals for a model of 2: 3 groups labelled (--focal first)' in log
