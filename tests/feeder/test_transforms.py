"""feeder/transforms.py: egocentric alignment, augmentation and motion channels."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from feeder import tools
from feeder.feeder import Feeder
from feeder.feeder_kinetics import Feeder_kinetics
from feeder.transforms import (FOCAL_MODES, bone_parents, build_transform, channel_count, individual_orders,
                               transform_from_feeder_args)
from net.utils.graph import RAT_NAMES
from conftest import write_dataset

W, H = 640.0, 480.0
SPINE, NECK, TAIL_BASE = RAT_NAMES.index('spine'), RAT_NAMES.index('neck'), RAT_NAMES.index('tail_base')


def _pixels_to_data(px: np.ndarray, score: np.ndarray) -> np.ndarray:
    """(T, V, M, 2) pixel positions and (T, V, M) scores -> (3, T, V, M) as kinetics_gendata writes them."""
    data = np.zeros((3,) + score.shape, dtype=np.float32)
    data[0] = px[..., 0] / W - 0.5
    data[1] = px[..., 1] / H - 0.5
    data[2] = score
    data[0:2, score == 0] = 0
    return data


def _rat_pixels(T: int = 12, M: int = 1, seed: int = 0) -> np.ndarray:
    """(T, V, M, 2) pixel positions of a wobbling rat-like body near the frame centre."""
    rng = np.random.default_rng(seed)
    body = rng.uniform(-40, 40, size=(12, 2))
    body[TAIL_BASE], body[NECK], body[SPINE] = (-40, 0), (20, 0), (0, 0)
    px = body[None, :, None, :] + rng.normal(0, 3, size=(T, 12, M, 2))
    return px + np.array([W / 2, H / 2])


def _move(px: np.ndarray, degrees: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = np.radians(degrees)
    rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (px - [W / 2, H / 2]) @ rotation.T * scale + [W / 2, H / 2] + shift


def _score(T: int = 12, M: int = 1) -> np.ndarray:
    score = np.full((T, 12, M), 0.9, dtype=np.float32)
    score[3, 0] = 0  # the nose lost in one frame
    score[5:7, SPINE] = 0  # the centre joint lost for two frames
    score[8, TAIL_BASE] = 0  # a heading joint lost once
    return score


def _ego(**extra):
    return build_transform('egocentric_clip', 'spine', ['tail_base', 'neck'], layout='rat', frame_size=[W, H],
                           **extra)


@pytest.mark.parametrize('mode', ['egocentric_clip', 'egocentric_frame'])
def test_egocentric_output_ignores_rotation_translation_and_scale(mode):
    px, score = _rat_pixels(), _score()
    transform = build_transform(mode, SPINE, [TAIL_BASE, NECK], frame_size=[W, H])
    reference = transform(_pixels_to_data(px, score))
    for degrees, scale, shift in ((90, 1.0, (0, 0)), (-137, 1.6, (120, -80)), (25, 0.7, (-150, 60))):
        moved = transform(_pixels_to_data(_move(px, degrees, scale, shift), score))
        np.testing.assert_allclose(moved, reference, atol=2e-5)
    # and the input itself did change
    assert not np.allclose(_pixels_to_data(_move(px, 90, 1.0, (0, 0)), score), _pixels_to_data(px, score))


def test_egocentric_clip_centres_turns_heading_to_plus_x_and_scales_to_body_length():
    px = np.zeros((4, 12, 1, 2))
    px[:, :] = [300, 200]
    px[:, TAIL_BASE] = [300, 200]  # tail base -> neck points straight down in the image, 60 px long
    px[:, NECK] = [300, 260]
    px[:, SPINE] = [300, 230]
    out = _ego()(_pixels_to_data(px, np.ones((4, 12, 1), np.float32)))
    np.testing.assert_allclose(out[0:2, :, SPINE, 0], 0, atol=1e-6)
    np.testing.assert_allclose(out[0:2, :, NECK, 0].T, [[0.5, 0]] * 4, atol=1e-6)  # +x, half a body length
    np.testing.assert_allclose(out[0:2, :, TAIL_BASE, 0].T, [[-0.5, 0]] * 4, atol=1e-6)


def test_egocentric_frame_aligns_every_frame():
    px, score = _rat_pixels(T=6), np.ones((6, 12, 1), np.float32)
    turning = np.stack([_move(px[t:t + 1], 40 * t, 1.0, (10 * t, 0))[0] for t in range(6)])
    out = build_transform('egocentric_frame', SPINE, [TAIL_BASE, NECK], frame_size=[W, H])(
        _pixels_to_data(turning, score))
    heading = out[0:2, :, NECK, 0] - out[0:2, :, TAIL_BASE, 0]  # (2, T)
    np.testing.assert_allclose(heading[1], 0, atol=1e-5)
    assert (heading[0] > 0).all()
    np.testing.assert_allclose(out[0:2, :, SPINE, 0], 0, atol=1e-5)


@pytest.mark.parametrize('extra', [{}, {'random_rotate': 30, 'random_scale': [0.8, 1.2]},
                                   {'channels': ['xy_score', 'velocity', 'bone']}])
@pytest.mark.parametrize('mode', ['frame', 'egocentric_clip', 'egocentric_frame'])
def test_masked_joints_stay_exactly_zero(mode, extra):
    data = _pixels_to_data(_rat_pixels(M=2), _score(M=2))
    data[:, :, :, 1] = 0  # an empty second individual
    transform = build_transform(mode, 'spine', ['tail_base', 'neck'], layout='rat', frame_size=[W, H], **extra)
    out = transform(data, rng=np.random.default_rng(0))
    masked = data[2] == 0  # (T, V, M)
    assert out.shape[0] == transform.in_channels
    assert (out[:, masked] == 0).all()
    assert (out[0:2, ~masked] != 0).any()


def test_frame_reproduces_the_original_feeder_arrays_exactly(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.normal(0, 0.2, size=(5, 3, 9, 12, 2)).astype(np.float32)
    data[:, 2] = rng.uniform(0, 1, size=(5, 9, 12, 2)).astype(np.float32)
    data_path, label_path = write_dataset(tmp_path, 'train', data, [0, 1, 0, 1, 0])
    for feeder in (Feeder(data_path, label_path), Feeder(data_path, label_path, normalize='frame', layout='rat')):
        for i in range(5):
            item, _ = feeder[i]
            assert item.dtype == np.float32
            np.testing.assert_array_equal(item, data[i])
    padded, _ = Feeder(data_path, label_path, window_size=12)[2]
    np.testing.assert_array_equal(padded, tools.auto_pading(data[2], 12))
    # the identity transform hands its input back untouched
    sample = data[0]
    assert build_transform()(sample) is sample


def test_bodypart_names_and_indices_give_the_same_result():
    data = _pixels_to_data(_move(_rat_pixels(M=2), 70, 1.2, (30, 10)), _score(M=2))
    by_index = build_transform('egocentric_clip', SPINE, [TAIL_BASE, NECK], channels=['xy_score', 'bone'],
                               layout='rat')
    by_name = build_transform('egocentric_clip', 'spine', ['tail_base', 'neck'], channels=['xy_score', 'bone'],
                              layout='rat')
    by_bodyparts = build_transform('egocentric_clip', 'spine', ['tail_base', 'neck'], bodyparts=list(RAT_NAMES))
    np.testing.assert_array_equal(by_name(data), by_index(data))
    np.testing.assert_array_equal(by_bodyparts(data), by_index(data)[:3])


def _chain_clip() -> np.ndarray:
    """3 joints in a chain 0 - 1 - 2 (centre 1), 3 frames; joint 2 masked in frame 1."""
    data = np.zeros((3, 3, 3, 1), dtype=np.float32)
    data[0, :, :, 0] = [[0.0, 0.1, 0.3], [0.1, 0.2, 0.0], [0.3, 0.3, 0.4]]  # x (T, V)
    data[1, :, :, 0] = [[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.1, 0.2, 0.2]]  # y
    data[2, :, :, 0] = [[1, 1, 1], [1, 1, 0], [1, 1, 1]]
    return data


CHAIN = {'num_node': 3, 'edges': [[0, 1], [1, 2]], 'center': 1}


def test_velocity_and_bone_channels_have_the_documented_values():
    data = _chain_clip()
    out = build_transform(channels=['xy_score', 'velocity', 'bone'], layout=CHAIN)(data)
    assert out.shape == (7, 3, 3, 1)
    np.testing.assert_array_equal(out[:3], data)
    velocity_x = [[0, 0, 0], [0.1, 0.1, 0], [0.2, 0.1, 0]]  # frame 0 zero; joint 2 masked in frame 1
    velocity_y = [[0, 0, 0], [0.1, 0, 0], [0, 0.2, 0]]
    np.testing.assert_allclose(out[3, :, :, 0], velocity_x, atol=1e-6)
    np.testing.assert_allclose(out[4, :, :, 0], velocity_y, atol=1e-6)
    bone_x = [[-0.1, 0, 0.2], [-0.1, 0, 0], [0, 0, 0.1]]  # joint minus parent (1); the centre's bone is zero
    bone_y = [[0, 0, 0], [0.1, 0, 0], [-0.1, 0, 0]]
    np.testing.assert_allclose(out[5, :, :, 0], bone_x, atol=1e-6)
    np.testing.assert_allclose(out[6, :, :, 0], bone_y, atol=1e-6)


def test_bone_parents_point_one_step_towards_the_centre():
    assert bone_parents(CHAIN).tolist() == [1, 1, 1]
    parents = bone_parents('rat')  # rat centre: left_ear
    assert parents[RAT_NAMES.index('left_ear')] == RAT_NAMES.index('left_ear')
    assert parents[RAT_NAMES.index('tail_tip')] == RAT_NAMES.index('tail_mid')
    assert parents[RAT_NAMES.index('nose')] == RAT_NAMES.index('left_ear')


def test_random_rotation_and_scale_keep_shape_up_to_one_factor():
    data = _pixels_to_data(_rat_pixels(), _score())
    plain = _ego()(data)
    augmented = _ego(random_rotate=180, random_scale=[0.5, 2.0])(data, rng=np.random.default_rng(1))
    visible = data[2] > 0
    ratio = np.hypot(*augmented[0:2])[visible] / np.hypot(*plain[0:2])[visible]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)
    assert 0.5 <= ratio[0] <= 2.0 and not np.allclose(augmented, plain)


def test_channel_count_and_feeder_with_seven_channels(tmp_path):
    assert channel_count(['xy_score']) == 3
    assert channel_count(['xy_score', 'velocity']) == 5
    assert channel_count(['xy_score', 'velocity', 'bone']) == 7
    data = np.stack([_pixels_to_data(_rat_pixels(seed=s), _score()) for s in range(4)])
    data_path, label_path = write_dataset(tmp_path, 'train', data, [0, 1, 0, 1])
    feeder = Feeder(data_path, label_path, normalize='egocentric_clip', center_joint='spine',
                    heading_joints=['tail_base', 'neck'], channels=['xy_score', 'velocity', 'bone'], layout='rat',
                    random_rotate=20)
    item, label = feeder[1]
    assert item.shape == (7, 12, 12, 1) and item.dtype == np.float32 and label == 1
    assert feeder.transform.in_channels == 7


def test_feeder_kinetics_takes_bodypart_names_from_the_clips(tmp_path):
    data = _pixels_to_data(_rat_pixels(T=4), np.ones((4, 12, 1), np.float32))
    frames = [{'frame_index': t, 'skeleton': [{
        'pose': [float(v) for xy in zip(data[0, t, :, 0] + 0.5, data[1, t, :, 0] + 0.5) for v in xy],
        'score': [1.0] * 12}]} for t in range(4)]
    (tmp_path / 'clips').mkdir()
    with open(tmp_path / 'clips' / 'a.json', 'w') as handle:
        json.dump({'data': frames, 'label': 'x', 'label_index': 0, 'bodyparts': list(RAT_NAMES)}, handle)
    with open(tmp_path / 'label.json', 'w') as handle:
        json.dump({'a': {'has_skeleton': True, 'label': 'x', 'label_index': 0}}, handle)
    feeder = Feeder_kinetics(str(tmp_path / 'clips'), str(tmp_path / 'label.json'), max_frame=4, num_person_out=1,
                             normalize='egocentric_clip', center_joint='spine', heading_joints=['tail_base', 'neck'])
    item, _ = feeder[0]
    expected = build_transform('egocentric_clip', SPINE, [TAIL_BASE, NECK])(data)
    np.testing.assert_allclose(item, expected, atol=1e-5)


@pytest.mark.parametrize('kwargs, message', [
    ({'normalize': 'egocentric_clp'}, "unknown normalize 'egocentric_clp' (did you mean 'egocentric_clip'?); allowed: "
                                      'frame, egocentric_clip, egocentric_frame, egocentric_focal, '
                                      'egocentric_focal_frame, egocentric_pair'),
    ({'focal': -1}, 'focal -1: expected the slot of the focal individual, an integer 0, 1, ...'),
    ({'focal': True}, 'focal True: expected the slot of the focal individual'),
    ({'random_individual_order': 'yes'}, "random_individual_order 'yes': expected a boolean (true or false in YAML"),
    ({'normalize': 'egocentric_clip'}, 'needs center_joint and heading_joints'),
    ({'channels': ['xy_score', 'bone']}, 'channels bone needs the skeleton: pass layout'),
    ({'channels': ['xy_score', 'velocty']}, "unknown channel group 'velocty' in channels (did you mean 'velocity'?)"),
    ({'normalize': 'egocentric_clip', 'center_joint': 'spine', 'heading_joints': [9, 3]},
     "bodypart name 'spine' needs the bodypart names"),
    ({'normalize': 'egocentric_clip', 'center_joint': 'spin', 'heading_joints': [9, 3], 'layout': 'rat'},
     "center_joint: 'spin' is not a bodypart (did you mean 'spine'?)"),
    ({'normalize': 'egocentric_clip', 'center_joint': 6, 'heading_joints': [3, 3]}, 'the two joints must differ'),
    ({'random_scale': [1.2, 0.8]}, 'expected [lo, hi] with 0 < lo <= hi'),
    ({'frame_size': [640]}, 'expected [width, height] in pixels'),
])
def test_bad_arguments_are_refused_with_a_message(kwargs, message):
    with pytest.raises(ValueError) as error:
        build_transform(**kwargs)
    assert message in str(error.value)


def test_transform_from_feeder_args_matches_the_feeder_without_augmentation():
    args = {'data_path': 'x.npy', 'random_move': True, 'normalize': 'egocentric_clip', 'center_joint': 'spine',
            'heading_joints': ['tail_base', 'neck'], 'layout': 'rat', 'frame_size': [W, H], 'random_rotate': 90,
            'channels': ['xy_score', 'velocity']}
    transform = transform_from_feeder_args(args)
    assert transform.rotate == 0 and transform.in_channels == 5
    data = _pixels_to_data(_rat_pixels(), _score())
    np.testing.assert_array_equal(transform(data), _ego(channels=['xy_score', 'velocity'])(data))
    assert transform_from_feeder_args(args, augment=True).rotate == 90


# ---------------------------------------------------------------- several individuals: focal modes, empty slots, order
EGOCENTRIC = ('egocentric_clip', 'egocentric_frame') + FOCAL_MODES


def _pair_pixels(T: int = 12) -> np.ndarray:
    """(T, V, 2, 2) two rats: slot 0 near the frame centre, slot 1 about 2.5 body lengths away, turned 120 degrees."""
    first = _rat_pixels(T, seed=0)
    second = _move(_rat_pixels(T, seed=1), 120, 1.0, (140, -60))
    return np.concatenate([first, second], axis=2)


def _build(mode: str, **extra):
    return build_transform(mode, 'spine', ['tail_base', 'neck'], layout='rat', frame_size=[W, H], **extra)


@pytest.mark.parametrize('mode', FOCAL_MODES)
def test_focal_modes_ignore_moving_the_whole_scene(mode):
    px, score = _pair_pixels(), _score(M=2)
    transform = _build(mode)
    reference = transform(_pixels_to_data(px, score))
    assert (reference[0:2, :, :, 1] != 0).any()
    for degrees, scale, shift in ((90, 1.0, (0, 0)), (-137, 1.6, (120, -80)), (25, 0.7, (-150, 60))):
        moved = transform(_pixels_to_data(_move(px, degrees, scale, shift), score))
        np.testing.assert_allclose(moved, reference, atol=2e-5)


@pytest.mark.parametrize('mode', FOCAL_MODES)
def test_focal_modes_see_the_partner_move_but_per_animal_modes_do_not(mode):
    px, score = _pair_pixels(), _score(M=2)
    partner_moved = px.copy()
    partner_moved[:, :, 1] = _move(px[:, :, 1], 60, 1.0, (-90, 40))  # the partner alone turned and moved
    before, after = _pixels_to_data(px, score), _pixels_to_data(partner_moved, score)
    focal = _build(mode)
    assert not np.allclose(focal(after), focal(before), atol=1e-3)
    if mode == 'egocentric_focal':  # the focal animal's own input is the per-animal one
        np.testing.assert_allclose(focal(after)[..., 0], _build('egocentric_clip')(after)[..., 0], atol=1e-5)
    for per_animal in ('egocentric_clip', 'egocentric_frame'):  # the geometry the per-animal modes lose
        np.testing.assert_allclose(_build(per_animal)(after), _build(per_animal)(before), atol=2e-5)


def test_egocentric_focal_puts_the_partner_in_the_focal_animals_body_lengths():
    px = np.zeros((4, 12, 2, 2))
    px[:, :, 0] = [300, 200]
    px[:, TAIL_BASE, 0], px[:, SPINE, 0], px[:, NECK, 0] = [300, 200], [300, 230], [300, 260]  # 60 px, facing down
    px[:, :, 1] = [300, 380]  # partner: spine 2.5 body lengths ahead of the focal spine, facing back towards it,
    px[:, TAIL_BASE, 1], px[:, SPINE, 1], px[:, NECK, 1] = [300, 420], [300, 380], [300, 340]  # 80 px long
    data = _pixels_to_data(px, np.ones((4, 12, 2), np.float32))
    out = _build('egocentric_focal')(data)
    np.testing.assert_allclose(out[0:2, :, SPINE, 0].T, [[0, 0]] * 4, atol=1e-6)
    np.testing.assert_allclose(out[0:2, :, SPINE, 1].T, [[2.5, 0]] * 4, atol=1e-6)  # 150 px / 60 px, straight ahead
    np.testing.assert_allclose(out[0:2, :, NECK, 1].T, [[2.5 - 40 / 60, 0]] * 4, atol=1e-6)  # its head points at -x
    focal_1 = _build('egocentric_focal', focal=1)(data)  # seen from the other animal: 150 / 80 body lengths ahead
    np.testing.assert_allclose(focal_1[0:2, :, SPINE, 0].T, [[150 / 80, 0]] * 4, atol=1e-6)
    pair = _build('egocentric_pair')(data)  # the midpoint, +x from slot 0 to slot 1, mean body length 70 px
    np.testing.assert_allclose(pair[0:2, :, SPINE, 0].T, [[-75 / 70, 0]] * 4, atol=1e-6)
    np.testing.assert_allclose(pair[0:2, :, SPINE, 1].T, [[75 / 70, 0]] * 4, atol=1e-6)
    swapped = _build('egocentric_pair')(data[..., ::-1])  # the other order turns the picture by 180 degrees
    np.testing.assert_allclose(swapped[0:2], -pair[0:2, ..., ::-1], atol=1e-6)


def test_egocentric_focal_frame_follows_the_focal_animal_frame_by_frame():
    T = 8
    px = np.zeros((T, 12, 2, 2))
    for t in range(T):  # the focal turns in place by 30 degrees a frame; the partner stays 1.5 body lengths behind
        a = np.radians(30 * t)
        axis = np.array([np.cos(a), np.sin(a)])
        for m, spine in enumerate(([320, 240], [320, 240] - 90 * axis)):
            px[t, :, m] = spine
            px[t, TAIL_BASE, m], px[t, NECK, m] = spine - 30 * axis, spine + 30 * axis
    out = _build('egocentric_focal_frame')(_pixels_to_data(px, np.ones((T, 12, 2), np.float32)))
    np.testing.assert_allclose(out[0:2, :, SPINE, 1].T, [[-1.5, 0]] * T, atol=1e-5)
    np.testing.assert_allclose(out[0:2, :, NECK, 1].T, [[-1, 0]] * T, atol=1e-5)
    clip = _build('egocentric_focal')(_pixels_to_data(px, np.ones((T, 12, 2), np.float32)))
    assert np.ptp(clip[0, :, SPINE, 1]) > 0.5  # with the clip's mean heading the partner swings about


@pytest.mark.parametrize('mode', EGOCENTRIC)
def test_an_individual_that_cannot_be_aligned_is_an_empty_slot(mode):
    px, score = _pair_pixels(), _score(M=2)
    score[:, SPINE, 1] = 0  # slot 1: the centre joint never visible
    data = _pixels_to_data(px, score)
    out = _build(mode, channels=['xy_score', 'velocity', 'bone'])(data)
    assert (out[..., 1] == 0).all()  # coordinates, score and motion channels
    alone = data.copy()
    alone[..., 1] = 0
    np.testing.assert_allclose(out, _build(mode, channels=['xy_score', 'velocity', 'bone'])(alone), atol=1e-6)
    assert (out[2, :, :, 0] == data[2, :, :, 0]).all()


@pytest.mark.parametrize('mode', FOCAL_MODES)
def test_the_next_individual_that_can_be_aligned_is_the_focal(mode):
    px, score = _pair_pixels(), _score(M=3)
    px = np.concatenate([px, _move(px[:, :, :1], -45, 1.0, (-160, 90))], axis=2)  # a third rat
    score[:, NECK, 0] = 0  # slot 0 has no heading
    data = _pixels_to_data(px, score)
    out = _build(mode)(data)
    assert (out[..., 0] == 0).all()
    rolled = _build(mode)(np.roll(data, -1, axis=3))  # slot 1 first: what slot 1 as the focal gives
    np.testing.assert_allclose(out[..., 1:], rolled[..., :2], atol=1e-6)
    np.testing.assert_allclose(_build(mode, focal=1)(data), out, atol=1e-6)
    score[:, TAIL_BASE, 1:] = 0  # slots 1 and 2 cannot be aligned either: nothing can
    assert (_build(mode)(_pixels_to_data(px, score)) == 0).all()


def test_focal_out_of_range_for_the_data_is_refused():
    with pytest.raises(ValueError, match=r'focal: individual slot 2 is out of range for data with M=2 individual '
                                         r'slots \(0 to 1\)'):
        _build('egocentric_focal', focal=2)(_pixels_to_data(_pair_pixels(), _score(M=2)))


def _audit_clips() -> np.ndarray:
    """(6, 3, T, V, 2): clean; slot 1 spine never seen; slot 0 heading never seen; slot 1 absent; both unaligned;
    slot 0 absent."""
    clean = _pixels_to_data(_pair_pixels(), _score(M=2))
    clips = np.stack([clean] * 6)
    clips[1, :, :, SPINE, 1] = 0
    clips[2, :, :, NECK, 0] = 0
    clips[3, ..., 1] = 0
    clips[4, :, :, TAIL_BASE, :] = 0
    clips[5, ..., 0] = 0
    return clips


@pytest.mark.parametrize('mode, expected', [
    ('frame', {'clips': 6, 'empty_slot': 0, 'focal_changed': 0, 'all_empty': 0, 'no_partner': 0}),
    ('egocentric_clip', {'clips': 6, 'empty_slot': 3, 'focal_changed': 0, 'all_empty': 1, 'no_partner': 0}),
    ('egocentric_focal', {'clips': 6, 'empty_slot': 3, 'focal_changed': 2, 'all_empty': 1, 'no_partner': 0}),
    ('egocentric_pair', {'clips': 6, 'empty_slot': 3, 'focal_changed': 2, 'all_empty': 1, 'no_partner': 4}),
])
def test_audit_counts_the_clips_of_a_split(mode, expected, tmp_path):
    clips = _audit_clips()
    transform = _build(mode)
    assert transform.audit(clips) == expected
    np.save(tmp_path / 'clips.npy', clips)
    assert transform.audit(np.load(tmp_path / 'clips.npy', mmap_mode='r'), chunk=4) == expected
    assert transform.audit(clips[i:i + 1] for i in range(6)) == expected  # chunks read some other way
    # what the counts say happens, happens
    for i, clip in enumerate(clips):
        out = transform(clip)
        emptied = (clip[2] > 0).any(axis=(0, 1)) & (out[2] == 0).all(axis=(0, 1))
        assert emptied.any() == (i in (1, 2, 4) and mode != 'frame')


def test_the_audit_is_one_log_line_per_split(caplog):
    transform = _build('egocentric_focal')
    with caplog.at_level(logging.DEBUG, logger='feeder.transforms'):
        transform.log_audit(_audit_clips(), 'train_data.npy')
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ['train_data.npy: 3 of 6 clips have an individual whose reference joints (spine; tail_base '
                        '-> neck) are never visible: it enters as an empty slot; in 2 of 6 clips the focal slot 0 '
                        'cannot be aligned and the next slot that can is the focal; in 1 of 6 clips no individual '
                        'can be aligned: all zeros (normalize egocentric_focal)']
    assert caplog.records[0].levelno == logging.WARNING
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger='feeder.transforms'):
        for clip in _audit_clips():  # no per-sample warning any more
            transform(clip, sample='a clip')
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]
    assert transform.audit_message(transform.audit(_audit_clips()[:1]), 'val') is None


def test_feeder_logs_the_audit_of_its_split(tmp_path, caplog):
    data_path, label_path = write_dataset(tmp_path, 'train', _audit_clips(), [0, 1, 0, 1, 0, 1])
    with caplog.at_level(logging.WARNING):
        feeder = Feeder(data_path, label_path, normalize='egocentric_clip', center_joint='spine',
                        heading_joints=['tail_base', 'neck'], layout='rat')
        Feeder(data_path, label_path)  # frame: nothing to say
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith('train_data.npy: 3 of 6 clips have an individual')
    assert (feeder[1][0][..., 1] == 0).all()


def test_random_individual_order_permutes_the_slots_reproducibly():
    data = _pixels_to_data(_pair_pixels(), _score(M=2))
    data = np.concatenate([data, data[..., :1] * 0.5], axis=3)  # three slots, all different
    transform = build_transform(random_individual_order=True)
    seen = set()
    for seed in range(12):
        out = transform(data, rng=np.random.default_rng(seed))
        order = [next(m for m in range(3) if np.array_equal(out[..., k], data[..., m])) for k in range(3)]
        assert sorted(order) == [0, 1, 2]
        seen.add(tuple(order))
        np.testing.assert_array_equal(transform(data, rng=np.random.default_rng(seed)), out)
    assert len(seen) > 3
    np.random.seed(5)
    first = transform(data)
    np.random.seed(5)
    np.testing.assert_array_equal(transform(data), first)  # numpy's global RNG when no rng is given


def test_random_individual_order_changes_the_focal_and_leaves_one_animal_alone():
    data = _pixels_to_data(_pair_pixels(), _score(M=2))
    transform = _build('egocentric_focal', random_individual_order=True)
    outs = [transform(data, rng=np.random.default_rng(seed)) for seed in range(8)]
    as_stored, swapped = _build('egocentric_focal')(data), _build('egocentric_focal')(data[..., ::-1])
    assert all(np.allclose(out, as_stored) or np.allclose(out, swapped) for out in outs)
    assert any(np.allclose(out, swapped) for out in outs) and any(np.allclose(out, as_stored) for out in outs)
    single = data[..., :1]
    rng = np.random.default_rng(3)
    out = _build('egocentric_clip', random_individual_order=True, random_rotate=30)(single, rng=rng)
    again = np.random.default_rng(3)  # no draw for the order: the same rotation as without the option
    np.testing.assert_array_equal(out, _build('egocentric_clip', random_rotate=30)(single, rng=again))
    assert build_transform(random_individual_order=True)(single).tolist() == single.tolist()
    assert transform_from_feeder_args({'random_individual_order': True}).is_identity  # no augmentation at test time
    assert not transform_from_feeder_args({'random_individual_order': True}, augment=True).is_identity


def test_individual_orders_and_each_order():
    assert [o.tolist() for o in individual_orders(1)] == [[0]]
    assert [o.tolist() for o in individual_orders(2)] == [[0, 1], [1, 0]]
    assert [o.tolist() for o in individual_orders(3)] == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    assert len(individual_orders(3, every=True)) == 6
    with pytest.raises(ValueError, match='individual_orders: M 0 must be a number of individual slots >= 1'):
        individual_orders(0)
    data = _pixels_to_data(_pair_pixels(), _score(M=2))
    transform = _build('egocentric_focal', channels=['xy_score', 'velocity'], random_individual_order=True)
    batch = transform.each_order(data)
    assert batch.shape == (2, 5) + data.shape[1:] and batch.dtype == np.float32
    plain = _build('egocentric_focal', channels=['xy_score', 'velocity'])
    np.testing.assert_array_equal(batch[1], plain(data[..., [1, 0]]))
    np.testing.assert_array_equal(batch[0], plain(data))


def test_feeder_kinetics_logs_the_audit_of_its_clips(tmp_path, caplog):
    clips = _audit_clips()
    (tmp_path / 'clips').mkdir()
    labels = {}
    for i, clip in enumerate(clips):
        frames = [{'frame_index': t, 'skeleton': [{
            'pose': [float(v) for xy in zip(clip[0, t, :, m] + 0.5, clip[1, t, :, m] + 0.5) for v in xy],
            'score': [float(s) for s in clip[2, t, :, m]]} for m in range(2)]} for t in range(clip.shape[1])]
        with open(tmp_path / 'clips' / f'c{i}.json', 'w') as handle:
            json.dump({'data': frames, 'label': 'x', 'label_index': 0}, handle)
        labels[f'c{i}'] = {'has_skeleton': True, 'label': 'x', 'label_index': 0}
    with open(tmp_path / 'label.json', 'w') as handle:
        json.dump(labels, handle)
    with caplog.at_level(logging.WARNING):
        Feeder_kinetics(str(tmp_path / 'clips'), str(tmp_path / 'label.json'), max_frame=clips.shape[2],
                        normalize='egocentric_focal', center_joint='spine', heading_joints=['tail_base', 'neck'],
                        layout='rat', random_individual_order=True)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # the reader sorts the individuals of each frame by summed score, which here puts the one with fewer visible
    # joints in slot 1, so the focal slot 0 can always be aligned
    assert warnings == ['clips: 3 of 6 clips have an individual whose reference joints (spine; tail_base -> neck) '
                        'are never visible: it enters as an empty slot; in 1 of 6 clips no individual can be '
                        'aligned: all zeros (normalize egocentric_focal)']


def test_random_noise_adds_jitter_of_the_given_size_to_visible_joints_only():
    rng = np.random.default_rng(0)
    data = np.zeros((3, 200, 4, 1), np.float32)
    data[0, :, :, 0] = rng.uniform(-0.3, 0.3, (200, 4))
    data[1, :, :, 0] = rng.uniform(-0.3, 0.3, (200, 4))
    data[2] = 1.0
    data[:, :, 3] = 0.0                                     # a joint never visible
    transform = build_transform(random_noise=0.05)
    out = transform(data, rng=np.random.default_rng(1))
    moved = out[0:2, :, :3] - data[0:2, :, :3]
    assert abs(moved.std() - 0.05) < 0.005 and abs(moved.mean()) < 0.005
    assert not out[0:2, :, 3].any()                         # masked joints stay 0
    np.testing.assert_array_equal(out[2], data[2])          # scores untouched
    assert not transform_from_feeder_args({'random_noise': 0.05}).noise   # an augmentation: off at test time
    with pytest.raises(ValueError, match=r"random_noise 2: expected a standard deviation in \[0, 1\)"):
        build_transform(random_noise=2)
