"""tools/csv2json.py: clips, labels, augmentation, bouts, batches with bad files, real DLC files."""
from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest

from feeder import dlc_io
from tools import csv2json

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REAL = os.path.join(os.path.dirname(ROOT), 'shared', 'dlc-real')
SCORER = 'DLC_resnet50_testJan1shuffle1_1000'


def write_csv(path, T, bodyparts=('nose', 'tail'), seed=0, likelihood=0.9):
    """A single-animal DLC CSV of T frames; x = 10 * frame + 1 for every bodypart, y = 5."""
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    lines = ['scorer,' + ','.join([SCORER] * 3 * len(bodyparts)),
             'bodyparts,' + ','.join(bp for bp in bodyparts for _ in range(3)),
             'coords,' + ','.join(['x', 'y', 'likelihood'] * len(bodyparts))]
    for t in range(T):
        lines.append(f'{t},' + ','.join(f'{10 * t + 1},5,{likelihood}' for _ in bodyparts))
    with open(path, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    return str(path)


def load(path):
    with open(path) as handle:
        return json.load(handle)


def test_class_folders_clips_and_classes(tmp_path):
    write_csv(tmp_path / 'in' / 'walk' / 'ratA.csv', 25)
    write_csv(tmp_path / 'in' / 'rear' / 'ratB.csv', 10)
    out = tmp_path / 'out'
    code = csv2json.main(['--input', str(tmp_path / 'in'), '--output', str(out), '--width', '1000',
                          '--height', '100', '--clip_len', '10', '--stride', '10'])
    assert code == 0
    names = sorted(os.path.basename(p) for p in glob.glob(str(out / '*.json')))
    # 25 frames -> clips 0-9, 10-19 and the partial 20-24 (5 >= 10/2)
    assert names == ['rear__ratB__0000.json', 'walk__ratA__0000.json', 'walk__ratA__0001.json',
                     'walk__ratA__0002.json']
    assert (out / 'classes.txt').read_text() == 'rear\nwalk\n'
    clip = load(out / 'walk__ratA__0001.json')
    assert clip['label'] == 'walk' and clip['label_index'] == 1
    assert [f['frame_index'] for f in clip['data']] == list(range(10))
    # frame 10 of the recording: x = 101 px / 1000, y = 5 / 100
    assert clip['data'][0]['skeleton'][0]['pose'] == [0.101, 0.05, 0.101, 0.05]
    assert clip['data'][0]['skeleton'][0]['score'] == [0.9, 0.9]
    assert clip['source']['start_frame'] == 10 and clip['source']['end_frame'] == 19
    assert len(load(out / 'walk__ratA__0002.json')['data']) == 5


def test_label_mode_classes_file_and_bodyparts(tmp_path):
    path = write_csv(tmp_path / 'r.csv', 6, bodyparts=('nose', 'neck', 'tail'))
    classes = tmp_path / 'classes.txt'
    classes.write_text('groom\nwalk\n')
    out = tmp_path / 'out'
    code = csv2json.main(['--input', path, '--label', 'walk', '--output', str(out), '--width', '100',
                          '--height', '100', '--clip_len', '6', '--classes', str(classes),
                          '--bodyparts', 'tail', 'nose'])
    assert code == 0
    clip = load(out / 'walk__r__0000.json')
    assert clip['label_index'] == 1 and clip['bodyparts'] == ['tail', 'nose']
    assert len(clip['data'][0]['skeleton'][0]['pose']) == 4
    assert (out / 'classes.txt').read_text() == 'groom\nwalk\n'


def test_label_not_in_classes_file(tmp_path):
    path = write_csv(tmp_path / 'r.csv', 6)
    classes = tmp_path / 'classes.txt'
    classes.write_text('groom\n')
    with pytest.raises(ValueError, match=r'classes\.txt: does not list class\(es\) walk'):
        csv2json.main(['--input', path, '--label', 'walk', '--output', str(tmp_path / 'o'),
                       '--classes', str(classes)])


def test_missing_bodypart_refuses_file(tmp_path):
    path = write_csv(tmp_path / 'r.csv', 6)
    opts = csv2json.ConvertOptions(output=str(tmp_path / 'o'), width=100, height=100, clip_len=6,
                                   bodyparts=['nose', 'left_ear'])
    result = csv2json.convert_batch([csv2json.Job(path=path, label='walk')], {'walk': 0}, opts,
                                    progress=False)
    assert "r.csv: bodypart 'left_ear' is not in this file" in result.refused[path]
    assert not glob.glob(str(tmp_path / 'o' / '*.json'))


def test_pcutoff_masks_points_and_masked_fraction(tmp_path):
    path = write_csv(tmp_path / 'r.csv', 4, likelihood=0.5)
    base = dict(width=100, height=100, clip_len=4)
    out = str(tmp_path / 'o')
    csv2json.convert_file(csv2json.Job(path=path, label='walk'), {'walk': 0},
                          csv2json.ConvertOptions(output=out, pcutoff=0.6, **base))
    clip = load(os.path.join(out, 'walk__r__0000.json'))
    assert clip['data'][2]['skeleton'][0] == {'pose': [0.0, 0.0, 0.0, 0.0], 'score': [0.0, 0.0]}
    assert clip['masked_fraction'] == 1.0
    csv2json.convert_file(csv2json.Job(path=path, label='walk'), {'walk': 0},
                          csv2json.ConvertOptions(output=out, pcutoff=0.4, **base))
    clip = load(os.path.join(out, 'walk__r__0000.json'))
    assert clip['data'][2]['skeleton'][0]['pose'] == [0.21, 0.05, 0.21, 0.05]
    assert clip['masked_fraction'] == 0.0


def test_multi_animal_individuals_stay_in_order(tmp_path):
    data = os.path.join(ROOT, 'tests', 'data', 'dlc', 'ma_with_single.csv')
    out = str(tmp_path / 'o')
    opts = csv2json.ConvertOptions(output=out, width=100, height=100, clip_len=2, pcutoff=0.5)
    csv2json.convert_file(csv2json.Job(path=data, label='social'), {'social': 0}, opts)
    clip = load(os.path.join(out, 'social__ma_with_single__0000.json'))
    assert clip['source']['individual_names'] == ['rat1', 'rat2']
    assert clip['bodyparts'] == ['nose', 'tail_base', 'corner']
    frame1 = clip['data'][1]['skeleton']
    assert len(frame1) == 2
    assert frame1[1]['pose'] == [0.0, 0.0, 0.71, 0.81, 0.05, 0.06]      # rat2's nose is missing
    assert frame1[1]['score'] == [0.0, 0.6, 0.98]


def test_augment_is_seeded_and_within_range(tmp_path):
    path = write_csv(tmp_path / 'r.csv', 4)

    def run(out, seed):
        opts = csv2json.ConvertOptions(output=str(out), width=1000, height=100, clip_len=4, augment=2,
                                       seed=seed)
        written = csv2json.convert_file(csv2json.Job(path=path, label='walk'), {'walk': 0}, opts)
        return sorted(os.path.basename(p) for p in written)

    names = run(tmp_path / 'a', 0)
    assert names == ['walk__r__0000.json', 'walk__r__0000__aug1.json', 'walk__r__0000__aug2.json']
    run(tmp_path / 'b', 0)
    run(tmp_path / 'c', 1)
    same = [(tmp_path / 'a' / n).read_text() == (tmp_path / 'b' / n).read_text() for n in names]
    assert all(same)
    assert (tmp_path / 'a' / names[1]).read_text() != (tmp_path / 'c' / names[1]).read_text()
    original = np.array([f['skeleton'][0]['pose'] for f in load(tmp_path / 'a' / names[0])['data']])
    for name in names[1:]:
        copy = np.array([f['skeleton'][0]['pose'] for f in load(tmp_path / 'a' / name)['data']])
        # in pixels: x' = s * x + dx with s in [0.97, 1.03] and 1 <= |dx| <= 3
        # (frame 0, x = 1 px, may be shifted out of the frame and clipped to 0: use frames 1-3)
        x, x2 = original[1:, 0] * 1000, copy[1:, 0] * 1000
        scale = (x2[-1] - x2[0]) / (x[-1] - x[0])
        assert 0.97 - 1e-3 <= scale <= 1.03 + 1e-3
        shift = x2[0] - scale * x[0]
        assert 1 - 0.02 <= abs(shift) <= 3 + 0.02
        assert not np.allclose(copy, original)


def test_batch_with_one_bad_file_converts_the_others(tmp_path, capsys):
    write_csv(tmp_path / 'in' / 'walk' / 'good1.csv', 8)
    write_csv(tmp_path / 'in' / 'walk' / 'good2.csv', 8)
    (tmp_path / 'in' / 'walk' / 'broken.csv').write_text('')
    out = tmp_path / 'out'
    code = csv2json.main(['--input', str(tmp_path / 'in'), '--output', str(out), '--width', '100',
                          '--height', '100', '--clip_len', '8'])
    assert code == 1
    assert sorted(os.path.basename(p) for p in glob.glob(str(out / '*.json'))) == [
        'walk__good1__0000.json', 'walk__good2__0000.json']
    summary = capsys.readouterr().out
    assert 'converted 2 file(s)' in summary
    assert 'REFUSED' in summary and 'broken.csv: file is empty' in summary


def test_short_recording_is_one_clip_unless_a_minimum_is_asked(tmp_path):
    path = write_csv(tmp_path / 'r.csv', 3)
    opts = csv2json.ConvertOptions(output=str(tmp_path / 'o'), width=100, height=100, clip_len=10)
    written = csv2json.convert_file(csv2json.Job(path=path, label='walk'), {'walk': 0}, opts)
    assert len(written) == 1 and len(load(written[0])['data']) == 3
    opts = csv2json.ConvertOptions(output=str(tmp_path / 'o2'), width=100, height=100, clip_len=10, min_len=5)
    with pytest.raises(ValueError, match=r'r\.csv: no clip to write: the recording has 3 frames shorter than '
                                         r'--min_len 5'):
        csv2json.convert_file(csv2json.Job(path=path, label='walk'), {'walk': 0}, opts)


def test_annotations_cut_bouts_and_background(tmp_path):
    write_csv(tmp_path / 'rec.csv', 30)
    bouts = tmp_path / 'bouts.csv'
    bouts.write_text('file,start_frame,end_frame,label\nrec.csv,5,14,groom\nrec.csv,20,29,rear\n')
    out = tmp_path / 'out'
    code = csv2json.main(['--annotations', str(bouts), '--output', str(out), '--width', '1000',
                          '--height', '100', '--clip_len', '10', '--background', 'other'])
    assert code == 0
    names = sorted(os.path.basename(p) for p in glob.glob(str(out / '*.json')))
    # background: frames 0-4 (5 frames, half a clip: kept) and 15-19
    assert names == ['groom__rec__0000.json', 'other__rec__0000.json', 'other__rec__0001.json',
                     'rear__rec__0000.json']
    groom = load(out / 'groom__rec__0000.json')
    assert (groom['source']['start_frame'], groom['source']['end_frame']) == (5, 14)
    assert groom['data'][0]['skeleton'][0]['pose'][0] == 0.051
    assert (out / 'classes.txt').read_text() == 'groom\nother\nrear\n'
    background = load(out / 'other__rec__0001.json')
    assert background['source']['start_frame'] == 15 and background['label_index'] == 1


def test_annotations_errors(tmp_path, caplog):
    bouts = tmp_path / 'bouts.csv'
    bouts.write_text('file,start,end,label\n')
    with pytest.raises(ValueError, match='missing column'):
        csv2json.jobs_from_annotations([str(bouts)])
    bouts.write_text('file,start_frame,end_frame,label\nrec.csv,9,3,walk\n')
    with pytest.raises(ValueError, match=r'line 2: need 0 <= start_frame <= end_frame, got 9, 3'):
        csv2json.jobs_from_annotations([str(bouts)])
    write_csv(tmp_path / 'rec.csv', 10)
    bouts.write_text('file,start_frame,end_frame,label\nrec.csv,0,19,walk\n')
    jobs, problems = csv2json.jobs_from_annotations([str(bouts)])
    assert problems == []
    opts = csv2json.ConvertOptions(output=str(tmp_path / 'o'), width=100, height=100, clip_len=5, stride=5)
    with caplog.at_level('WARNING'):
        result = csv2json.convert_batch(jobs, {'walk': 0}, opts, progress=False)
    assert result.ok and len(result.converted[jobs[0].path]) == 2  # labels past the end: clipped, not refused
    assert '10 labelled frame(s) past the last frame clipped' in caplog.text


def test_cli_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        csv2json.parse_args(['--output', 'o'])
    assert 'give --input' in capsys.readouterr().err
    with pytest.raises(ValueError, match='give both --width and --height'):
        csv2json.main(['--input', str(tmp_path), '--label', 'x', '--output', 'o', '--width', '5'])


# ------------------------------------------------------------------ the real DeepLabCut files
REAL_EXPECTED = {
    # file: (bodyparts, individuals) when it converts, or a phrase of the refusal
    'raw_clip1DLC_resnet50_OpenFieldHighResApr8shuffle1_1030000.csv': (6, 1),
    'DLC_sample_poses.csv': (2, 1),
    'EPM_15DeepCut_resnet50_epmMay17shuffle1_1030000.csv': (25, 1),
    'cropped_video.csv': (6, 1),
    'testDLC_csv_table_multi.csv': (28, 1),
    'testDLC_csv_table_madlc.csv': (14, 2),
    'm3v1mp4shortDLC_effnet_b0_multi_mouseApr12shuffle1_5_el_filtered.csv': (5, 3),
    'demo_dlc_output.h5': (15, 1),
    'CollectedData_Mackenzie.csv': 'this is DeepLabCut labeled data',
}


@pytest.mark.skipif(not os.path.isdir(REAL), reason='../shared/dlc-real is absent')
def test_every_real_file_converts_or_is_refused_precisely(tmp_path):
    pose_files = sorted(f for f in os.listdir(REAL) if f.endswith(('.csv', '.h5')))
    assert set(pose_files) == set(REAL_EXPECTED)
    jobs = [csv2json.Job(path=os.path.join(REAL, f), label='real') for f in pose_files]
    opts = csv2json.ConvertOptions(output=str(tmp_path / 'o'), clip_len=31, stride=31, pcutoff=0.6)
    result = csv2json.convert_batch(jobs, {'real': 0}, opts, progress=False)
    for name, expected in REAL_EXPECTED.items():
        path = os.path.join(REAL, name)
        if isinstance(expected, str):
            assert expected in result.refused[path]
            assert result.refused[path].startswith(path)
            continue
        assert path in result.converted, result.refused.get(path)
        clip = load(result.converted[path][0])
        assert len(clip['bodyparts']) == expected[0]
        assert len(clip['data'][0]['skeleton']) == expected[1]
        assert all(len(s['pose']) == 2 * expected[0] for s in clip['data'][0]['skeleton'])
        poses = np.array([s['pose'] for f in clip['data'] for s in f['skeleton']])
        assert poses.min() >= 0 and poses.max() <= 1
    # the wasp file ends with 9 all-zero frames (missing data written as 0,0,0)
    wasp = [p for p in result.converted[os.path.join(REAL, 'DLC_sample_poses.csv')] if p.endswith('__0034.json')]
    last = load(wasp[0])
    assert last['source']['end_frame'] == 1084
    assert all(s['score'] == [0.0, 0.0] for f in last['data'][-9:] for s in f['skeleton'])
    # the maDLC file with a single block: 3 individuals x (3 bodyparts + 2 unique corners)
    ma = load(result.converted[os.path.join(REAL, 'm3v1mp4shortDLC_effnet_b0_multi_mouseApr12shuffle1_5_el_filtered.csv')][0])
    assert ma['bodyparts'] == ['bodypart1', 'bodypart2', 'bodypart3', 'corner1', 'corner2']


@pytest.mark.skipif(not os.path.isdir(REAL), reason='../shared/dlc-real is absent')
def test_real_configs_as_bodypart_order(tmp_path):
    assert dlc_io.bodyparts_from_dlc_config(os.path.join(REAL, '1_config.yaml')) == [
        'Hand', 'Finger1', 'Tongue', 'Joystick1', 'Joystick2']
    ma_config = os.path.join(REAL, '2_config.yaml')
    assert dlc_io.bodyparts_from_dlc_config(ma_config) == [
        'bodypart1', 'bodypart2', 'bodypart3', 'corner1', 'corner2']
    human = dlc_io.bodyparts_from_dlc_config(os.path.join(REAL, 'superanimal_humanbody.yaml'))
    assert human[0] == 'nose' and len(human) == 17
    ma_file = os.path.join(REAL, 'm3v1mp4shortDLC_effnet_b0_multi_mouseApr12shuffle1_5_el_filtered.csv')
    out = tmp_path / 'o'
    code = csv2json.main(['--input', ma_file, '--label', 'mice', '--output', str(out), '--dlc_config',
                          ma_config, '--single', 'drop', '--clip_len', '20', '--width', '640',
                          '--height', '480'])
    assert code == 0
    clip = load(out / 'mice__m3v1mp4shortDLC_effnet_b0_multi_mouseApr12shuffle1_5_el_filtered__0000.json')
    assert clip['bodyparts'] == ['bodypart1', 'bodypart2', 'bodypart3']
    assert clip['frame_size'] == [640.0, 480.0]
    # the reaching config's bodyparts are not in the open-field file: an error naming both
    result = csv2json.convert_batch(
        [csv2json.Job(path=os.path.join(REAL, 'cropped_video.csv'), label='x')], {'x': 0},
        csv2json.ConvertOptions(output=str(out), bodyparts=dlc_io.bodyparts_from_dlc_config(
            os.path.join(REAL, '1_config.yaml'))), progress=False)
    assert "cropped_video.csv: bodypart 'Hand' is not in this file" in list(result.refused.values())[0]


def test_nothing_converted_leaves_no_output_folder(tmp_path):
    bad = tmp_path / 'bad.csv'
    bad.write_text('scorer,a\nbodyparts,b\n')
    out = tmp_path / 'json'
    assert csv2json.main(['--input', str(bad), '--label', 'x', '--output', str(out)]) == 1
    assert not out.exists()  # no classes.txt and no empty folder left behind


# ------------------------------------------------------------------ annotations as labs have them
LABELLED = os.path.join(os.path.dirname(ROOT), 'shared', 'real-labelled')
DEMO1_RENAME = ['Nose=nose', 'Left Ear=l_ear', 'Right Ear=r_ear', 'Tailbase=tailbase', 'Left Leg=l_hip',
                'Right Leg=r_hip', 'Mid-Back=midback', 'Tail=midtail']
COMMON = ['nose', 'l_ear', 'r_ear', 'midback', 'l_hip', 'r_hip', 'tailbase', 'midtail']


@pytest.mark.skipif(not os.path.isdir(LABELLED), reason='../shared/real-labelled is absent')
def test_real_boris_exports_two_frame_rates_resampled(tmp_path):
    """BehaviorDEPOT: 50 and 30 fps recordings, their BORIS exports, bodyparts named differently in each."""
    folder = os.path.join(LABELLED, 'behaviordepot')
    out = tmp_path / 'out'
    code = csv2json.main(['--input', os.path.join(folder, 'demo1_tracking.csv'), os.path.join(folder, 'demo2_tracking.csv'),
                          '--annotations', os.path.join(folder, 'demo1_boris_export.csv'),
                          os.path.join(folder, 'demo2_boris_export.csv'), '--output', str(out),
                          '--clip_len', '2s', '--stride', '1s', '--target_fps', '30', '--background', 'other',
                          '--rename', *DEMO1_RENAME, '--bodyparts', *COMMON, '--log_level', 'WARNING'])
    assert code == 0
    assert (out / 'classes.txt').read_text() == 'freezing\nother\n'
    clips = {os.path.basename(p): load(p) for p in glob.glob(str(out / '*.json'))}
    first = clips['freezing__demo1_tracking__0000.json']
    # demo1's first freezing bout, 10.100 s to 11.460 s: frames 505-572 at 50 fps, 303-343 at 30 fps; shorter
    # than a clip (2 s = 60 frames), so one clip of its 41 frames
    assert (first['source']['start_frame'], len(first['data'])) == (303, 41)
    assert first['input']['fps'] == 30 and first['bodyparts'] == COMMON
    per_frame = np.loadtxt(os.path.join(folder, 'demo2_freezing_per_frame.csv'), delimiter=',', skiprows=1,
                           dtype=int)[:, 1]
    for name, clip in clips.items():  # demo2 is at 30 fps already: every clip lies inside one labelled run
        if 'demo2' in name:
            start, end = clip['source']['start_frame'], clip['source']['end_frame']
            assert set(per_frame[start:end + 1]) == {1 if clip['label'] == 'freezing' else 0}, name


@pytest.mark.skipif(not os.path.isdir(LABELLED), reason='../shared/real-labelled is absent')
def test_real_bouts_in_seconds_with_raters_and_a_folder_of_annotations(tmp_path, capsys, caplog):
    """Sturman open field: pose files re-saved by pandas beside their bouts files (three raters, seconds)."""
    folder = os.path.join(LABELLED, 'sturman_oft')
    out = tmp_path / 'out'
    argv = ['--input', folder, '--annotations', os.path.join(folder, '8_01_A_190507134142.csv'),
            os.path.join(folder, '12_01_A_190507144429.csv'), '--fps', '25', '--output', str(out),
            '--clip_len', '2s', '--classes', 'Supported', 'Unsupported', 'Grooming', 'other',
            '--background', 'other']
    with pytest.raises(ValueError, match="3 raters in column 'Experimenter': Furkan, Jin, Oliver; choose one with "
                                         "--rater"):
        csv2json.main(argv)
    with caplog.at_level('WARNING'):
        assert csv2json.main(argv + ['--rater', 'Jin']) == 0
    assert 'labels not among the classes left out: Start/End' in caplog.text
    assert 'labelled frame(s) past the last frame clipped' in caplog.text   # bouts cover the whole video
    names = [os.path.basename(p) for p in glob.glob(str(out / '*.json'))]
    assert {n.split('__')[0] for n in names} == {'Supported', 'Unsupported', 'other'}
    supported = load(next(str(out / n) for n in names if n.startswith('Supported__8_01')))
    assert supported['label_index'] == 0 and len(supported['data']) <= 50
    with pytest.raises(ValueError, match=r"label 'Supported', which is not in --classes \(did you mean 'Suported'"):
        csv2json.main(argv[:argv.index('--classes')] + ['--classes', 'Suported', 'Unsupported', 'Grooming',
                                                        'other', '--background', 'other', '--rater', 'Jin'])


def test_annotation_folder_lists_unmatched_names_and_converts_the_rest(tmp_path, capsys):
    recordings = tmp_path / 'recordings'
    labels = tmp_path / 'labels'
    recordings.mkdir(), labels.mkdir()
    write_csv(recordings / 'mouse1DLC_resnet50_x.csv', 40)
    write_csv(recordings / 'mouse2DLC_resnet50_x.csv', 40)
    (labels / 'mouse1_labels.csv').write_text('start_s,end_s,label\n0.0,1.0,groom\n1.0,2.0,rear\n')
    (labels / 'mouse3.csv').write_text('start_s,end_s,label\n0.0,1.0,groom\n')
    code = csv2json.main(['--input', str(recordings), '--annotations', str(labels), '--fps', '20',
                          '--output', str(tmp_path / 'out'), '--width', '100', '--height', '100',
                          '--clip_len', '1s', '--classes', 'rear', 'groom'])
    assert code == 0
    summary = capsys.readouterr().out
    assert 'converted 1 file(s) into 2 JSON clip(s)' in summary
    assert 'SKIPPED' in summary and 'mouse3.csv' in summary and 'mouse2DLC_resnet50_x.csv' in summary
    assert sorted(os.listdir(tmp_path / 'out')) == ['classes.txt', 'groom__mouse1DLC_resnet50_x__0000.json',
                                                    'rear__mouse1DLC_resnet50_x__0000.json']
    assert (tmp_path / 'out' / 'classes.txt').read_text() == 'rear\ngroom\n'
