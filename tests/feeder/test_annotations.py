"""feeder.annotations: every reader on real exports (when ../shared is present) and on small files written here."""
from __future__ import annotations

import os
import re
import shutil

import numpy as np
import pytest

from feeder import annotations as A
from feeder.annotations import Annotation, Bout

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), '..',
                      'shared')
REAL = os.path.join(SHARED, 'real-labelled')
DEPOT = os.path.join(REAL, 'behaviordepot')
ETHOME = os.path.join(REAL, 'boris_exports')
STURMAN = os.path.join(REAL, 'sturman_oft')
ETHOME_ONE = 'e3v813a-20210610T120637-121213_reencode'
STURMAN_DLC = 'DeepCut_resnet50_Blockcourse1May9shuffle1_1030000.csv'


def real(folder: str) -> str:
    if not os.path.isdir(folder):
        pytest.skip('../shared/real-labelled is absent')
    return folder


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return str(path)


def only(annotations: list[Annotation]) -> Annotation:
    assert len(annotations) == 1
    return annotations[0]


# ------------------------------------------------------------------ time -> frame convention
def test_time_to_frames_rule():
    # frame f belongs to [t0, t1) when its middle (f + 0.5) / fps does
    assert A.time_to_frames(0.0, 0.1, 10) == (0, 0)
    assert A.time_to_frames(0.0, 1.0, 10) == (0, 9)
    assert A.time_to_frames(17.075, 22.1, 30) == (512, 662)   # 512.25 -> 512, 663.0 -> last 662
    assert A.time_to_frames(6.267, 7.233, 30) == (188, 216)    # ms-rounded frame times: 188.01, 216.99
    assert A.time_to_frames(1.00, 1.01, 30) == (30, 30)        # shorter than a frame: its start frame
    assert A.time_to_frames(0.049, 0.049, 10) == (0, 0)        # a point: nearest frame start
    assert A.time_to_frames(0.051, 0.051, 10) == (1, 1)


def test_behaviordepot_boris_layout_gives_the_per_frame_labels_exactly():
    folder = real(DEPOT)
    for n, fps, frames, bouts, frozen in ((1, 50.0, 6000, 20, 1368), (2, 30.0, 3600, 27, 1353)):
        boris = only(A.read_annotations(os.path.join(folder, f'demo{n}_boris_export.csv')))
        per_frame = only(A.read_annotations(os.path.join(folder, f'demo{n}_freezing_per_frame.csv')))
        assert (boris.fmt, boris.recording, boris.fps, boris.num_frames) == ('boris-events', f'demo{n}', fps, frames)
        assert (per_frame.fmt, per_frame.num_frames, per_frame.fps) == ('per-frame-binary', frames, None)
        assert len(boris.bouts) == len(per_frame.bouts) == bouts
        from_boris, report = A.frame_labels(boris, frames, ['freezing'])
        truth, _ = A.frame_labels(per_frame, frames, ['freezing'])
        assert int((truth == 0).sum()) == frozen                 # 22.8 % and 37.6 % (SOURCES.md)
        np.testing.assert_array_equal(from_boris, truth)          # 0 frames of disagreement
        assert report == {'clipped_frames': 0, 'dropped_bouts': 0, 'overlap_frames': 0,
                          'unknown_labels': {}, 'background_frames': 0}
        assert [(b.start, b.end) for b in boris.bouts] == [(b.start, b.end) for b in per_frame.bouts]
        assert {b.subject for b in boris.bouts} == {'mouse'}
    depot1 = only(A.read_annotations(os.path.join(folder, 'demo1_freezing_per_frame.csv')))
    assert depot1.bouts[0] == Bout(505, 572, 'freezing') and depot1.bouts[-1] == Bout(5313, 5365, 'freezing')


# ------------------------------------------------------------------ BORIS
def test_real_boris_exports():
    folder = real(ETHOME)
    expected = {  # file stem: (bouts, num_frames)
        ETHOME_ONE: (15, 10080),
        'e3v813a-20210610T121558-122141_reencode': (29, 10290),
        'e3v813a-20210610T122332-122642_reencode': (10, 5700),
        'e3v813a-20210610T122758-123309_reencode': (8, 9330),
        'e3v813a-20210610T123521-124106_reencode': (32, 10349),   # 344.970 s at 30 fps
    }
    for stem, (bouts, frames) in expected.items():
        ann = only(A.read_annotations(os.path.join(folder, stem + '.csv')))
        assert (ann.fmt, ann.recording, ann.fps, ann.num_frames) == ('boris-events', stem, 30.0, frames)
        assert len(ann.bouts) == bouts and ann.labels == ['interact']
        assert A.check_bouts(ann, frames) == []
    first = only(A.read_annotations(os.path.join(folder, ETHOME_ONE + '.csv')))
    assert first.bouts[0] == Bout(512, 662, 'interact', 'adult')      # 17.075 s to 22.100 s
    assert first.bouts[-1] == Bout(9941, 9980, 'interact', 'adult')   # 331.375 s to 332.700 s


def test_real_overlapping_behaviours_resolved_by_priority():
    path = os.path.join(real(ETHOME), ETHOME_ONE + '_multiple_behaviors.csv')
    ann = only(A.read_annotations(path))
    assert ann.recording == ETHOME_ONE and len(ann.bouts) == 17
    assert [b for b in ann.bouts if b.label == 'mount'] == [Bout(542, 692, 'mount', 'adult'),
                                                            Bout(1167, 1237, 'mount', 'adult')]
    labels, report = A.frame_labels(ann, ann.num_frames, ['interact', 'mount'])
    assert report['overlap_frames'] == 162
    assert np.bincount(labels + 1).tolist() == [8924, 1096, 60]         # interact wins (classes order)
    assert labels[600] == 0 and labels[680] == 1
    labels, report = A.frame_labels(ann, ann.num_frames, ['interact', 'mount'], priority=['mount'])
    assert np.bincount(labels + 1).tolist() == [8924, 934, 222]         # mount wins
    assert labels[600] == 1 and report['overlap_frames'] == 162
    labels, report = A.frame_labels(ann, ann.num_frames, ['interact'], background=None)
    assert report['unknown_labels'] == {'mount': 222} and int((labels == 0).sum()) == 1096
    assert A.check_bouts(ann, ann.num_frames) == []       # different behaviours may overlap in BORIS


BORIS_TSV = '\n'.join([
    'Observation id\tday1',
    '',
    'Media file(s)',
    '',
    'Player #1\tC:\\videos\\ratA.mp4',
    '',
    'Time offset (s)\t2.0',
    '',
    'Time\tMedia file path\tTotal length\tFPS\tSubject\tBehavior\tBehavioral category\tModifier 1\tComment\tStatus',
    '4.0\tC:\\videos\\ratA.mp4\t12.0\tNA\tratA\tgroom\t\t\t\tSTART',
    '5.0\tC:\\videos\\ratA.mp4\t12.0\tNA\tratB\tgroom\t\t\t\tSTART',
    '6.0\tC:\\videos\\ratA.mp4\t12.0\tNA\tratA\tgroom\t\t\t\tSTOP',
    '6.5\tC:\\videos\\ratA.mp4\t12.0\tNA\tratB\tgroom\t\t\t\tSTOP',
    '7.02\tC:\\videos\\ratA.mp4\t12.0\tNA\tratA\tsniff\t\t\t\tPOINT',
]) + '\n'


def test_boris_tsv_offset_point_subjects_and_fps(tmp_path):
    path = write(tmp_path, 'ratA_events.tsv', BORIS_TSV)
    with pytest.raises(ValueError, match=r'ratA_events\.tsv: no frame rate for .*ratA\.mp4.*give fps'):
        A.read_annotations(path)
    ann = only(A.read_annotations(path, fps=10))
    assert (ann.fmt, ann.recording, ann.fps, ann.num_frames) == ('boris-events', 'ratA', 10.0, 120)
    # offset 2 s: ratA groom 2.0-4.0 s, ratB groom 3.0-4.5 s, sniff POINT at 5.02 s
    assert ann.bouts == [Bout(20, 39, 'groom', 'ratA'), Bout(30, 44, 'groom', 'ratB'), Bout(50, 50, 'sniff', 'ratA')]
    assert 'POINT events: 1 (one frame each)' in ann.notes
    assert 'time offset 2 s subtracted' in ann.notes and 'subjects: ratA, ratB' in ann.notes
    assert A.check_bouts(ann, 120) == []       # the same behaviour of two subjects is no overlap
    labels, report = A.frame_labels(ann, 120, ['groom', 'sniff'], background='groom')
    assert report['overlap_frames'] == 0 and labels[50] == 1 and int((labels == 0).sum()) == 119


def test_boris_format_is_detected_from_content_not_extension(tmp_path):
    renamed = write(tmp_path, 'notes.txt', BORIS_TSV)
    assert A.detect_format(renamed) == 'boris-events'
    as_csv = write(tmp_path, 'events.csv', BORIS_TSV)
    assert only(A.read_annotations(as_csv, fps=10)).bouts[0] == Bout(20, 39, 'groom', 'ratA')
    if os.path.isdir(ETHOME):
        copy = tmp_path / 'export.dat'
        shutil.copy(os.path.join(ETHOME, ETHOME_ONE + '.csv'), copy)
        assert len(only(A.read_annotations(str(copy))).bouts) == 15


def test_boris_one_table_layout_with_two_media_files(tmp_path):
    header = ('Observation id,Observation date,Description,Observation duration,Observation type,Source,'
              'Time offset (s),Media duration (s),FPS,Subject,Behavior,Behavioral category,Behavior type,'
              'Time,Media file name,Image index,Image file path,Comment')
    common = ('obs2,2024-05-01 10:00:00,,30.0,Media file(s),player #1:/v/part1.mp4;/v/part2.mp4,0.000,'
              '10.000;20.000,25.000;25.000')
    rows = [f'{common},No focal subject,rear,,{status},{time},/v/{media},NA,NA,'
            for status, time, media in (('START', '3.000', 'part1.mp4'), ('STOP', '5.000', 'part1.mp4'),
                                        ('START', '12.000', 'part2.mp4'), ('STOP', '14.000', 'part2.mp4'),
                                        ('POINT', '15.000', 'part2.mp4'))]
    path = write(tmp_path, 'obs2.csv', '\n'.join([header] + rows) + '\n')
    part1, part2 = A.read_annotations(path)
    assert (part1.recording, part1.num_frames, part1.fps) == ('part1', 250, 25.0)
    assert part1.bouts == [Bout(75, 124, 'rear')]
    assert (part2.recording, part2.num_frames) == ('part2', 500)
    assert part2.bouts == [Bout(50, 99, 'rear'), Bout(125, 125, 'rear')]      # part2 starts at 10 s
    assert 'media file starts at 10 s of the observation' in part2.notes


def test_boris_old_layout_with_two_media_files_is_refused(tmp_path):
    text = ('Observation id,obs3\n\nMedia file(s)\n\nPlayer #1,a.mp4\nPlayer #1,b.mp4\n\n'
            'Time,Media file path,Total length,FPS,Subject,Behavior,Behavioral category,Comment,Status\n'
            '1.0,a.mp4,20.0,25.0,,walk,,,START\n2.0,a.mp4,20.0,25.0,,walk,,,STOP\n'
            '12.0,b.mp4,20.0,25.0,,walk,,,START\n13.0,b.mp4,20.0,25.0,,walk,,,STOP\n')
    path = write(tmp_path, 'obs3.csv', text)
    with pytest.raises(ValueError, match=r'obs3\.csv: observation obs3 spans 2 media files \(a, b\).*duration'):
        A.read_annotations(path)


@pytest.mark.parametrize('rows, message', [
    (['1.0,v.mp4,9,25,,walk,,,STOP'], r'line 3: STOP of \'walk\' without a START'),
    (['1.0,v.mp4,9,25,,walk,,,START'], r'line 3: START of \'walk\' at 1 s has no STOP'),
    (['2.0,v.mp4,9,25,m1,walk,,,START', '1.0,v.mp4,9,25,m1,walk,,,STOP'],
     r'line 4: STOP of \'walk\' \(subject m1\) at 1 s is before its START at 2 s \(line 3\): end before start'),
    (['1.0,v.mp4,9,25,,walk,,,START', '1.5,v.mp4,9,25,,walk,,,START'], r'line 4: second START of \'walk\''),
    (['1.0,v.mp4,9,25,,walk,,,BEGIN'], r"line 3: Status 'BEGIN' is not START or STOP or POINT"),
    (['x,v.mp4,9,25,,walk,,,START'], r"line 3: Time must be seconds, got 'x'"),
])
def test_boris_bad_rows(tmp_path, rows, message):
    header = ('Observation id,o\n'
              'Time,Media file path,Total length,FPS,Subject,Behavior,Behavioral category,Comment,Status\n')
    path = write(tmp_path, 'bad_boris.csv', header + '\n'.join(rows) + '\n')
    with pytest.raises(ValueError, match=r'bad_boris\.csv: ' + message):
        A.read_annotations(path)


def test_boris_aggregated_export_of_two_observations(tmp_path):
    header = ('Observation id,Observation date,Description,Media file,Total length,FPS,Subject,Behavior,'
              'Behavioral category,Modifiers,Behavior type,Start (s),Stop (s),Duration (s),Comment start,Comment stop')
    rows = ['day1,2024-01-01 10:00:00,,/data/day1_cam.mp4,60.000,30,m1,groom,,,STATE,1.000,2.000,1.000,,',
            'day1,2024-01-01 10:00:00,,/data/day1_cam.mp4,60.000,30,m1,sniff,,,POINT,3.000,NA,NA,,',
            'day2,2024-01-02 10:00:00,,/data/day2_cam.mp4,60.000,30,m1,groom,,,STATE,10.500,12.000,1.500,,']
    path = write(tmp_path, 'aggregated.tsv', '\n'.join([header] + rows).replace(',', '\t') + '\n')
    day1, day2 = A.read_annotations(path)
    assert (day1.fmt, day1.recording, day1.fps, day1.num_frames) == ('boris-aggregated', 'day1_cam', 30.0, 1800)
    assert day1.bouts == [Bout(30, 59, 'groom', 'm1'), Bout(90, 90, 'sniff', 'm1')]
    assert day1.notes[0] == 'POINT events: 1 (one frame each)'
    assert day2.recording == 'day2_cam' and day2.bouts == [Bout(315, 359, 'groom', 'm1')]
    bad = write(tmp_path, 'agg_bad.csv', header + '\n' + rows[0].replace('1.000,2.000', '2.000,1.000') + '\n')
    with pytest.raises(ValueError, match=r"agg_bad\.csv: line 2: bout of 'groom' \(subject m1\) ends before it "
                                         r'starts \(Start 2 s, Stop 1 s\)'):
        A.read_annotations(bad)


# ------------------------------------------------------------------ Caltech
CALTECH = '\n'.join([
    'Caltech Behavior Annotator - Annotation File', '',
    'Configuration file:', 'other\to', 'attack\ta', 'mount\tm', '',
    'S1:\tstart\tend\ttype', '-----------------------------',
    ' \t1\t10\tother', ' \t11\t25\tattack', ' \t26\t40\tother', '',
    'S2:\tstart\tend\ttype', '-----------------------------',
    ' \t1\t30\tother', ' \t31\t40\tmount', '']) + '\n'


def test_caltech_streams(tmp_path):
    path = write(tmp_path, 'crim_001.txt', CALTECH)
    s1 = only(A.read_annotations(path))
    assert (s1.fmt, s1.stream, s1.num_frames, s1.fps, s1.recording) == ('caltech', 'S1', 40, None, 'crim_001')
    assert s1.bouts == [Bout(0, 9, 'other'), Bout(10, 24, 'attack'), Bout(25, 39, 'other')]
    for stream in ('S2', 's2', '2', 2):
        s2 = only(A.read_annotations(path, stream=stream))
        assert s2.stream == 'S2' and s2.bouts == [Bout(0, 29, 'other'), Bout(30, 39, 'mount')]
    with pytest.raises(ValueError, match=r"crim_001\.txt: no stream 'S3'; the file has S1, S2"):
        A.read_annotations(path, stream='S3')
    labels, _ = A.frame_labels(s1, 40, ['attack', 'mount'], background=None)
    assert labels.tolist() == [-1] * 10 + [0] * 15 + [-1] * 15
    # the space-separated layout Piotr's toolbox writes (fprintf '%8i  %6i    %s')
    spaced = ('Caltech Behavior Annotator - Annotation File\n\nConfiguration file:\nother o\nattack a\n\n'
              'S1: start    end     type\n-----------------------------\n'
              '       1       4    other\n       5       6    attack\n')
    assert only(A.read_annotations(write(tmp_path, 'spaced.annot', spaced))).bouts == [
        Bout(0, 3, 'other'), Bout(4, 5, 'attack')]


def test_caltech_errors_and_overlap(tmp_path):
    bad = write(tmp_path, 'bad.txt', CALTECH.replace(' \t11\t25\tattack', ' \t11\t25\tchase'))
    with pytest.raises(ValueError, match=r"bad\.txt: line 11: behaviour 'chase' is not in the Configuration "
                                         r'file block \(it lists other, attack, mount\)'):
        A.read_annotations(bad)
    backwards = write(tmp_path, 'backwards.txt', CALTECH.replace('\t11\t25\t', '\t25\t11\t'))
    with pytest.raises(ValueError, match=r'backwards\.txt: line 11: need 1 <= start <= end'):
        A.read_annotations(backwards)
    overlap = write(tmp_path, 'overlap.txt', CALTECH.replace('\t11\t25\t', '\t8\t25\t'))
    ann = only(A.read_annotations(overlap))
    assert A.check_bouts(ann, 40) == [
        f'{overlap}: overlap (S1): bouts other 0-9 and attack 7-24 overlap by 3 frames '
        '(a Caltech stream labels each frame once)']
    assert A.check_bouts(ann, 30) == [
        f"{overlap}: overlap (S1): 1 bout(s) run past the recording's last frame 29 (10 frames clipped; "
        'first: other 25-39)', A.check_bouts(ann, 40)[0]]


# ------------------------------------------------------------------ per-frame tables
def test_simba_targets_beside_pose_and_feature_columns(tmp_path):
    attack = [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    mount = [0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1]
    lines = [',Nose_1_x,Nose_1_y,Nose_1_p,Tail_1_x,Tail_1_y,Tail_1_p,Movement_mouse_1,attack,mount']
    for t in range(12):
        lines.append(f'{t},{100 + t}.5,{50 - t}.25,0.9{t % 10},{200 + t}.0,80.0,1,{t * 0.37:.2f},'
                     f'{attack[t]},{mount[t]}')
    path = write(tmp_path, 'Video1.csv', '\n'.join(lines) + '\n')
    ann = only(A.read_annotations(path))
    assert (ann.fmt, ann.num_frames, ann.recording) == ('simba', 12, 'Video1')
    assert ann.bouts == [Bout(2, 5, 'attack'), Bout(4, 8, 'mount'), Bout(10, 11, 'mount')]   # Tail_1_p (all 1) is pose
    assert ann.notes == ['behaviour columns: attack, mount (beside 6 pose and 1 other columns)']
    labels, report = A.frame_labels(ann, 12, ['attack', 'mount'])
    assert report['overlap_frames'] == 2 and labels[4:6].tolist() == [0, 0]
    labels, _ = A.frame_labels(ann, 12, ['attack', 'mount'], priority=['mount', 'attack'])
    assert labels.tolist() == [-1, -1, 0, 0, 1, 1, 1, 1, 1, -1, 1, 1]


def test_per_frame_names_integers_and_frame_column(tmp_path):
    names = write(tmp_path, 'rec7_labels.dat', 'frame\tlabel\n0\t\n1\twalk\n2\twalk\n3\trest\n4\t\n5\twalk\n')
    ann = only(A.read_annotations(names, fps=30))
    assert (ann.fmt, ann.num_frames, ann.fps) == ('per-frame', 6, 30.0)
    assert ann.bouts == [Bout(1, 2, 'walk'), Bout(3, 3, 'rest'), Bout(5, 5, 'walk')]
    integers = write(tmp_path, 'ints.csv', 'frame,label\n1,0\n2,0\n3,2\n4,-1\n5,2\n')
    ann = only(A.read_annotations(integers))
    assert ann.bouts == [Bout(0, 1, '0'), Bout(2, 2, '2'), Bout(4, 4, '2')]
    assert "frame column 'frame' counts from 1: read as 1-based" in ann.notes
    gaps = write(tmp_path, 'gaps.csv', 'frame,label\n0,a\n1,a\n3,b\n')
    with pytest.raises(ValueError, match=r"gaps\.csv: line 4: frame column 'frame' must count 0, 1, 2"):
        A.read_annotations(gaps)
    binary = write(tmp_path, 'two.csv', 'frame,freezing,rearing\n0,0,1\n1,1,0\n2,1,0\n3,0,0\n')
    ann = only(A.read_annotations(binary))
    assert ann.fmt == 'per-frame-binary' and ann.bouts == [Bout(0, 0, 'rearing'), Bout(1, 2, 'freezing')]


# ------------------------------------------------------------------ bouts in seconds
def test_real_sturman_bouts_three_raters():
    path = os.path.join(real(STURMAN), '8_01_A_190507134142.csv')
    with pytest.raises(ValueError, match=r'8_01_A_190507134142\.csv: bouts are in seconds .*give fps'):
        A.read_annotations(path, rater='Jin')
    with pytest.raises(ValueError, match=r"8_01_A_190507134142\.csv: 3 raters in column 'Experimenter': "
                                         r'Furkan, Jin, Oliver; choose one with --rater'):
        A.read_annotations(path, fps=25)
    with pytest.raises(ValueError, match=r"no rater 'Anna' in column 'Experimenter'; it lists Furkan, Jin, Oliver"):
        A.read_annotations(path, fps=25, rater='Anna')
    jin = only(A.read_annotations(path, fps=25, rater='Jin'))
    assert (jin.fmt, jin.recording, jin.stream, jin.fps) == ('bouts-seconds', '8_01_A_190507134142', 'Jin', 25.0)
    assert len(jin.bouts) == 131 and jin.labels == ['Start/End', 'Supported', 'Unsupported', 'Grooming']
    assert jin.bouts[0] == Bout(62, 80, 'Start/End')                  # 2.461 s to 3.257 s: the observation start
    assert jin.pose_file == os.path.join(os.path.abspath(STURMAN), '8_01_A_190507134142' + STURMAN_DLC)
    assert os.path.isfile(jin.pose_file)
    labels, report = A.frame_labels(jin, 1998, ['Supported', 'Unsupported', 'Grooming'])
    assert report['unknown_labels'] == {'Start/End': 19} and report['dropped_bouts'] == 114
    assert np.bincount(labels + 1, minlength=4).tolist() == [1434, 423, 141, 0]
    oliver = only(A.read_annotations(path, fps=25, rater='Oliver'))
    assert len(oliver.bouts) == 145 and '_DEFAULT' in oliver.labels
    problems = A.check_bouts(oliver, 1998)
    assert problems[0] == (f"{path}: 8_01_A_190507134142 (Oliver): 127 bout(s) run past the recording's last "
                           'frame 1997 (5595 frames clipped; first: Supported 2163-2195)')
    assert problems[1:] == [   # a rater's Unsupported bout written twice over (219.882-223.523 s)
        f'{path}: 8_01_A_190507134142 (Oliver): bouts Unsupported 5497-5541 and Unsupported 5497-5587 overlap by '
        '45 frames (the same behaviour overlaps itself)',
        f'{path}: 8_01_A_190507134142 (Oliver): bouts Unsupported 5497-5587 and Unsupported 5544-5585 overlap by '
        '42 frames (the same behaviour overlaps itself)']


def test_bouts_in_seconds_with_a_video_column(tmp_path):
    path = write(tmp_path, 'scored.csv', 'video,start_s,end_s,label\nratA.mp4,0.0,0.5,groom\n'
                                         'ratB.mp4,1.0,1.2,rear\nratA.mp4,2.0,2.1,rear\n')
    rat_a, rat_b = A.read_annotations(path, fps=20)
    assert (rat_a.recording, rat_a.bouts) == ('ratA', [Bout(0, 9, 'groom'), Bout(40, 41, 'rear')])
    assert (rat_b.recording, rat_b.bouts, rat_b.pose_file) == ('ratB', [Bout(20, 23, 'rear')], None)
    backwards = write(tmp_path, 'back.csv', 'start_s,end_s,label\n3.0,2.0,rear\n')
    with pytest.raises(ValueError, match=r'back\.csv: line 2: end before start: 3 s to 2 s'):
        A.read_annotations(backwards, fps=20)
    assert only(A.read_annotations(write(tmp_path, 'x.csv', 'start_s,end_s,label\n0,1,a\n'), fps=5)).recording == 'x'


# ------------------------------------------------------------------ bouts in frames (csv2json's format)
def test_bouts_frames_several_files(tmp_path):
    path = write(tmp_path, 'bouts.csv', 'file,start_frame,end_frame,label\nrec.csv,5,14,groom\n'
                                        'sub/other.h5,0,3,rear\nrec.csv,20,29,rear\n')
    rec, other = A.read_annotations(path)
    assert (rec.fmt, rec.recording, rec.bouts) == ('bouts-frames', 'rec', [Bout(5, 14, 'groom'), Bout(20, 29, 'rear')])
    assert rec.pose_file == os.path.normpath(str(tmp_path / 'rec.csv'))
    assert (other.recording, other.pose_file) == ('other', os.path.normpath(str(tmp_path / 'sub' / 'other.h5')))
    base = A.read_bouts_csv(path, base_dir='/data')
    assert base[0].pose_file == os.path.normpath('/data/rec.csv') and base[0].bouts == rec.bouts


@pytest.mark.parametrize('text, message', [
    ('file,start,end,label\n', r'missing column\(s\) start_frame, end_frame; the header must be '
                               r'file,start_frame,end_frame,label \(found file,start,end,label\)'),
    ('file,start_frame,end_frame,label\nrec.csv,9,3,walk\n', r'line 2: need 0 <= start_frame <= end_frame, got 9, 3'),
    ('file,start_frame,end_frame,label\nrec.csv,a,3,walk\n',
     r"line 2: start_frame/end_frame must be whole frame numbers, got 'a', '3'"),
    ('file,start_frame,end_frame,label\n,1,3,walk\n', r'line 2: empty "file" cell'),
    ('file,start_frame,end_frame,label\nrec.csv,1,3,a__b\n',
     r"class name 'a__b' in .*bouts\.csv line 2 is not allowed"),
    ('file,start_frame,end_frame,label\n', r'bouts\.csv: lists no bouts'),
])
def test_bouts_frames_messages_match_csv2json(tmp_path, text, message):
    path = write(tmp_path, 'bouts.csv', text)
    for reader in (A.read_annotations, A.read_bouts_csv):
        with pytest.raises(ValueError, match=message):
            reader(path)


# ------------------------------------------------------------------ bad files
def test_unknown_missing_and_pose_files_are_refused(tmp_path):
    path = write(tmp_path, 'mystery.csv', 'a,b\nx,y\n')
    with pytest.raises(ValueError) as info:
        A.read_annotations(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a recognised behaviour annotation format (first line: 'a,b')")
    assert '\n' not in message
    for name in ('BORIS tabular event export', 'BORIS aggregated export', 'Caltech Behavior Annotator',
                 'SimBA', 'per-frame labels', 'bouts in seconds', 'bouts in frames'):
        assert name in message
    with pytest.raises(FileNotFoundError, match=r'nowhere\.csv: no such annotations file'):
        A.read_annotations(str(tmp_path / 'nowhere.csv'))
    with pytest.raises(ValueError, match=r'empty\.csv: file is empty'):
        A.read_annotations(write(tmp_path, 'empty.csv', '\n\n'))
    with pytest.raises(ValueError, match=r'fps must be a positive number of frames per second, got -5'):
        A.read_annotations(path, fps=-5)
    if os.path.isdir(DEPOT):
        with pytest.raises(ValueError, match=r'demo1_tracking\.csv: is a DeepLabCut pose file'):
            A.read_annotations(os.path.join(DEPOT, 'demo1_tracking.csv'))


# ------------------------------------------------------------------ frame_labels, bouts_from_frames
def test_frame_labels_background_classes_and_clipping():
    ann = Annotation(source='s.csv', recording='r', fmt='bouts-frames', fps=None,
                     bouts=[Bout(2, 4, 'walk'), Bout(6, 7, 'Start/End'), Bout(8, 12, 'rest'), Bout(15, 16, 'rest')])
    labels, report = A.frame_labels(ann, 10, ['other', 'walk', 'rest'], background='other')
    assert labels.tolist() == [0, 0, 1, 1, 1, 0, -1, -1, 2, 2]   # Start/End frames stay -1, not background
    assert report == {'clipped_frames': 5, 'dropped_bouts': 1, 'overlap_frames': 0,
                      'unknown_labels': {'Start/End': 2}, 'background_frames': 3}
    labels, _ = A.frame_labels(ann, 10, ['walk'])
    assert labels.tolist() == [-1, -1, 0, 0, 0, -1, -1, -1, -1, -1]
    with pytest.raises(ValueError, match=r"s\.csv: background 'idle' is not one of the classes \(walk, rest\)"):
        A.frame_labels(ann, 10, ['walk', 'rest'], background='idle')
    with pytest.raises(ValueError, match=r"s\.csv: priority names 'run' are not classes \(walk, rest\)"):
        A.frame_labels(ann, 10, ['walk', 'rest'], priority=['run'])
    with pytest.raises(ValueError, match=r's\.csv: classes repeat walk'):
        A.frame_labels(ann, 10, ['walk', 'walk'])


def test_bouts_from_frames():
    assert A.bouts_from_frames(np.array([-1, 0, 0, 1, -1, 1, 1]), ['a', 'b']) == [
        Bout(1, 2, 'a'), Bout(3, 3, 'b'), Bout(5, 6, 'b')]
    assert A.bouts_from_frames(np.array([[1, 0], [1, 1], [0, 1]]), ['a', 'b']) == [Bout(0, 1, 'a'), Bout(1, 2, 'b')]
    assert A.bouts_from_frames(np.array([], dtype=np.int64), ['a']) == []
    with pytest.raises(ValueError, match=r'label values must lie in -1\.\.1'):
        A.bouts_from_frames(np.array([0, 2]), ['a', 'b'])
    with pytest.raises(ValueError, match=r'labels has 3 columns but 2 names'):
        A.bouts_from_frames(np.zeros((4, 3)), ['a', 'b'])


def test_seconds_or_frames():
    assert A.seconds_or_frames('300', None) == 300
    assert A.seconds_or_frames(12, None) == 12
    assert A.seconds_or_frames('2s', 25) == 50
    assert A.seconds_or_frames('1.5 S', 29.97) == 45
    with pytest.raises(ValueError, match=r"--clip_len: '2s' is in seconds, which needs the frame rate"):
        A.seconds_or_frames('2s', None, what='--clip_len')
    with pytest.raises(ValueError, match=r"--clip_len: '2.5' is not a whole number of frames"):
        A.seconds_or_frames('2.5', 30, what='--clip_len')
    with pytest.raises(ValueError, match=r"'-3' is not a duration; give a whole number of frames"):
        A.seconds_or_frames('-3', 30)
    with pytest.raises(ValueError, match=r"'2 min' is not a duration"):
        A.seconds_or_frames('2 min', 30)


# ------------------------------------------------------------------ matching recordings
def test_match_real_names():
    depot, sturman = real(DEPOT), real(STURMAN)
    poses = [os.path.join(depot, 'demo1_tracking.csv'), os.path.join(depot, 'demo2_tracking.csv'),
             os.path.join(sturman, '8_01_A_190507134142' + STURMAN_DLC),
             os.path.join(sturman, '12_01_A_190507144429' + STURMAN_DLC)]
    anns = (A.read_annotations(os.path.join(depot, 'demo1_boris_export.csv'))
            + A.read_annotations(os.path.join(depot, 'demo2_freezing_per_frame.csv'))
            + A.read_annotations(os.path.join(sturman, '12_01_A_190507144429.csv'), fps=25, rater='Jin')
            + A.read_annotations(os.path.join(sturman, '8_01_A_190507134142.csv'), fps=25, rater='Jin'))
    pairs, problems = A.match_annotations(poses, anns)
    assert problems == []
    assert [(os.path.basename(p), os.path.basename(a.source)) for p, a in pairs] == [
        ('demo1_tracking.csv', 'demo1_boris_export.csv'),
        ('demo2_tracking.csv', 'demo2_freezing_per_frame.csv'),
        ('8_01_A_190507134142' + STURMAN_DLC, '8_01_A_190507134142.csv'),
        ('12_01_A_190507144429' + STURMAN_DLC, '12_01_A_190507144429.csv')]
    both = anns[:1] + A.read_annotations(os.path.join(depot, 'demo1_freezing_per_frame.csv'))
    pairs, problems = A.match_annotations(poses[:2], both)
    assert pairs == []
    assert problems[0].startswith(f'{poses[0]}: ambiguous: 2 annotations match this recording (')
    assert problems[1] == f'{poses[1]}: no annotation matches this recording'


def suffix_annotation(recording: str, labels: tuple[str, ...] = ('groom',)) -> Annotation:
    return Annotation(source=f'/ann/{recording}.csv', recording=recording, fmt='per-frame', fps=None,
                      bouts=[Bout(0, 1, label) for label in labels])


@pytest.mark.parametrize('recording', ['mouseA_t1_annot', 'mouseA_t1_annotations', 'mouseA_t1_labels',
                                       'mouseA_t1.boris', 'mouseA_t1_boris', 'mouseA_t1', 'mouseA_t1_groom',
                                       'mouseA_t1_groom_per_frame', 'mouseA_t1.mp4'])
def test_match_suffix_variants(recording):
    poses = ['/p/mouseA_t1DLC_resnet50_boxJan1shuffle1_500000.h5',
             '/p/mouseA_t10DLC_resnet50_boxJan1shuffle1_500000.h5', '/p/mouseB_t1_tracking.csv']
    pairs, problems = A.match_annotations(poses, [suffix_annotation(recording)])
    assert [p for p, _ in pairs] == [poses[0]]
    assert problems == [f'{poses[1]}: no annotation matches this recording',
                        f'{poses[2]}: no annotation matches this recording']


def test_match_problems_and_single_pair():
    lone = suffix_annotation('whatever_name')
    assert A.match_annotations(['/p/cam3.csv'], [lone]) == ([('/p/cam3.csv', lone)], [])
    pairs, problems = A.match_annotations(['/p/cam3.csv', '/p/cam4.csv'], [lone, suffix_annotation('cam4_labels')])
    assert [(p, a.recording) for p, a in pairs] == [('/p/cam4.csv', 'cam4_labels')]
    assert problems == ["/ann/whatever_name.csv: recording 'whatever_name' matches no pose file "
                        '(pose files: cam3, cam4)',
                        '/p/cam3.csv: no annotation matches this recording']
    pairs, problems = A.match_annotations(['/p/day1_cam1.csv', '/p/day1_cam2.csv'], [suffix_annotation('day1')])
    assert pairs == [] and re.match(r"/ann/day1\.csv: recording 'day1' is ambiguous: it matches 2 pose files "
                                    r'\(day1_cam1\.csv, day1_cam2\.csv\); left unpaired', problems[0])
