"""benchmarks/hand_features.py: names and shapes, invariances, known speeds, windows, gap filling, the classifier."""
import os
import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
import hand_features as hf  # noqa: E402

FPS = 30.0
BODY = ['nose', 'earl', 'earr', 'midback', 'tailbase']
ARENA = ['tl', 'tr', 'br', 'bl', 'centre']
# a mouse 100 px long, nose along +x: (V, 2) pixels relative to its tail base
SHAPE = np.array([[100, 0], [75, 12], [75, -12], [50, 0], [0, 0]], np.float64)
CORNERS = np.array([[0, 0], [800, 0], [800, 600], [0, 600], [400, 300]], np.float64)


def recording(T: int = 120, seed: int = 0, velocity=(0.0, 0.0), arena: bool = False, individuals: int = 1):
    """(xy (T, I, V, 2), score (T, I, V), names): a rigid mouse moving at ``velocity`` px/s, slight jitter."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None, None, None] / FPS
    xy = SHAPE[None, None] + np.array([300, 250.0]) + t * np.asarray(velocity)  # (T, 1, V, 2)
    xy = np.concatenate([xy + 150 * i for i in range(individuals)], axis=1)  # (T, I, V, 2)
    xy = xy + rng.normal(0, 0.5, xy.shape)
    names = list(BODY)
    if arena:
        fixed = np.broadcast_to(CORNERS, (T, individuals, len(ARENA), 2))
        xy, names = np.concatenate([xy, fixed], axis=2), names + ARENA
    score = np.full(xy.shape[:3], 0.99)
    return xy, score, names


def test_shapes_and_names():
    xy, score, names = recording(arena=True)
    features, out = hf.hand_features(xy, score, FPS, bodyparts=names, exclude=(), arena_corners=ARENA[:4],
                                     arena_centre='centre', windows_s=(0.5, 1.0))
    assert features.shape == (120, len(out)) and features.dtype == np.float32
    assert len(set(out)) == len(out)
    pairs = [n for n in out if n.startswith('dist.') and '-' in n]
    assert len(pairs) == 10  # every pair of the 5 body points, none with an arena point
    assert not any(a in n.split('.')[1].split('-') for n in out if n.startswith(('speed.', 'dist.', 'lowp.'))
                   for a in ARENA)
    for name in ('speed.nose', 'speed.centroid', 'angvel.heading', 'dist.nose-tailbase', 'angle.head_body',
                 'angle.body_bend', 'lowp.nose', 'lowp.fraction', 'arena.wall_front', 'arena.centre_centroid',
                 'speed.nose.mean_0.5s', 'speed.nose.std_1s', 'disp.centroid.net_1s', 'speed.centroid.max_1s',
                 'angle.body_bend.min_0.5s'):
        assert name in out, name
    assert {hf.feature_group(n) for n in out} == {'movement', 'posture', 'occlusion', 'arena'}
    assert hf.is_rolling('speed.nose.mean_0.5s') and not hf.is_rolling('speed.nose')
    # the mouse lies straight: the angles are 0, its length is one body length
    assert np.allclose(features[:, out.index('angle.body_bend')], 0, atol=0.15)
    bent = xy.copy()
    bent[:, :, 0] = bent[:, :, 1:3].mean(2) + np.array([0.0, 25.0])  # the nose turned 90 degrees off the body axis
    bent_features, _ = hf.hand_features(bent, score, FPS, bodyparts=names, arena_corners=ARENA[:4],
                                        arena_centre='centre', windows_s=(0.5, 1.0))
    assert np.allclose(bent_features[:, out.index('angle.head_body')], np.pi / 2, atol=0.1)
    assert np.allclose(features[:, out.index('dist.nose-tailbase')], 1, atol=0.02)
    # the nose at (400, 250) in an 800 x 600 arena: the nearest wall is the top one (y=0), 250 px away
    assert np.allclose(features[:, out.index('arena.wall_front')], 2.5, atol=0.03)


def test_two_individuals_have_prefixes_and_pair_features():
    xy, score, names = recording(individuals=2)
    features, out = hf.hand_features(xy, score, FPS, bodyparts=names, individuals=['m1', 'm2'], windows_s=(0.5,))
    assert 'm1.speed.nose' in out and 'm2.dist.nose-tailbase' in out and 'speed.nose' not in out
    centroid = out.index('pair.m1~m2.dist_centroid')
    assert np.allclose(features[:, centroid], np.hypot(150, 150) / 100, atol=0.02)
    for name in ('pair.m1~m2.approach', 'pair.m1~m2.bearing_a', 'pair.m1~m2.dist_nose_nose',
                 'pair.m1~m2.dist_min.mean_0.5s'):
        assert name in out, name
    assert hf.feature_group('pair.m1~m2.approach') == 'pair' and hf.feature_group('m1.lowp.nose') == 'occlusion'


def test_translation_and_resolution_do_not_change_features():
    xy, score, names = recording(velocity=(40, -25), arena=True)
    kwargs = dict(bodyparts=names, arena_corners=ARENA[:4], arena_centre='centre')
    base, out = hf.hand_features(xy, score, FPS, **kwargs)
    moved, _ = hf.hand_features(xy + np.array([123.0, -45.0]), score, FPS, **kwargs)
    scaled, _ = hf.hand_features(xy * 2.5, score, FPS, **kwargs)  # a camera with 2.5x the resolution
    assert np.allclose(moved, base, atol=1e-4, equal_nan=True)
    assert np.allclose(scaled, base, atol=1e-4, rtol=1e-4, equal_nan=True)
    assert not np.allclose(base[:, out.index('speed.nose')], 0)  # the recording does move


def test_speed_of_a_point_moving_at_a_known_speed():
    velocity = np.array([30.0, 40.0])  # 50 px/s, the mouse is 100 px long: 0.5 body lengths per second
    xy, score, names = recording(velocity=velocity)
    xy = SHAPE[None, None] + np.arange(120)[:, None, None, None] / FPS * velocity  # no jitter
    features, out = hf.hand_features(xy, score, FPS, bodyparts=names)
    assert np.allclose(features[:, out.index('speed.nose')], 0.5, atol=1e-5)
    assert np.allclose(features[:, out.index('speed.centroid.mean_1s')], 0.5, atol=1e-5)
    assert np.allclose(features[:, out.index('disp.nose.net_1s')], 0.5, atol=1e-5)
    assert np.allclose(features[:, out.index('angvel.heading')], 0, atol=1e-5)
    still, _ = hf.hand_features(xy[:1].repeat(120, 0), score, FPS, bodyparts=names)
    assert np.allclose(still[:, out.index('speed.nose')], 0, atol=1e-6)
    # a still mouse with tracking jitter: the net displacement over 2 s averages the jitter out, the speed does not
    jitter, _, _ = recording(T=300)
    shaky, _ = hf.hand_features(jitter, np.full(jitter.shape[:3], 0.99), FPS, bodyparts=names)
    assert np.median(shaky[:, out.index('disp.nose.net_2s')]) < np.median(shaky[:, out.index('speed.nose')]) / 5


@pytest.mark.parametrize('seconds, fps, frames', [(0.5, 50, 25), (0.5, 30, 15), (1.0, 30, 31), (0.5, 25, 13),
                                                  (2.0, 25, 51), (0.02, 25, 1)])
def test_window_frames_from_seconds(seconds, fps, frames):
    assert hf.window_frames(seconds, fps) == frames


def test_rolling_window_spans_its_frames_centred():
    xy, score, names = recording(T=200)
    score[100] = 0.1  # every point drops out in frame 100
    features, out = hf.hand_features(xy, score, FPS, bodyparts=names, windows_s=(0.5,))
    n = hf.window_frames(0.5, FPS)
    seen = np.flatnonzero(features[:, out.index('lowp.fraction.max_0.5s')] == 1)
    assert len(seen) == n and seen[0] == 100 - n // 2 and seen[-1] == 100 + n // 2
    with pytest.raises(ValueError, match='must be positive'):
        hf.window_frames(0, 30)


def test_short_gaps_are_interpolated_long_gaps_stay_missing():
    T = 40
    line = np.stack([np.arange(T) * 2.0, np.arange(T) * -1.0], -1)[:, None, :]  # (T, 1, 2)
    missing = np.zeros((T, 1), bool)
    missing[10:13] = True  # 3 frames: filled
    missing[20:28] = True  # 8 frames: left missing, all of them
    missing[:2] = True  # at the start: nothing to interpolate from
    filled = hf.interpolate_short_gaps(line, missing, max_gap=4)
    assert np.allclose(filled[10:13], line[10:13])
    assert np.isnan(filled[20:28]).all() and np.isnan(filled[:2]).all()
    assert not np.isnan(filled[2:20]).any() and not np.isnan(filled[28:]).any()

    xy, score, names = recording()
    score[50:53, 0, 0] = 0.2  # the nose drops out for 0.1 s
    features, out = hf.hand_features(xy, score, FPS, bodyparts=names)
    assert not np.isnan(features[:, out.index('dist.nose-tailbase')]).any()
    assert features[50:53, out.index('lowp.nose')].tolist() == [1, 1, 1]
    assert features[:, out.index('lowp.nose')].sum() == 3


def test_pose_smoothing_removes_a_one_frame_jump():
    xy, score, names = recording()
    xy[60, 0, 0] += np.array([0.0, 50.0])  # the nose jumps half a body length for one frame
    plain, out = hf.hand_features(xy, score, FPS, bodyparts=names)
    smoothed, _ = hf.hand_features(xy, score, FPS, bodyparts=names, pose_smooth_s=0.2)
    length = out.index('dist.nose-tailbase')
    assert plain[60, length] > 1.1
    assert abs(smoothed[60, length] - 1) < 0.02


def test_bad_inputs_are_refused_with_the_name():
    xy, score, names = recording()
    with pytest.raises(ValueError, match="'LED'"):
        hf.hand_features(xy, score, FPS, bodyparts=names, exclude=('LED',))
    with pytest.raises(ValueError, match=r'\(T, I, V, 2\)'):
        hf.hand_features(xy[:, 0], score, FPS, bodyparts=names)


def moving_or_still(seed: int, T: int = 2400) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A mouse that alternates 1-4 s of walking (0.5-3 body lengths/s, random direction) and of standing still."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(T, np.int64)
    position, velocity = np.zeros((T, 2)), np.zeros(2)
    t, moving = 0, bool(rng.integers(2))
    while t < T:
        n = int(rng.integers(30, 120))
        if moving:
            angle = rng.uniform(0, 2 * np.pi)
            velocity = rng.uniform(50, 300) * np.array([np.cos(angle), np.sin(angle)])  # px/s
        labels[t:t + n] = moving
        position[t:t + n] = (position[t - 1] if t else 0) + np.outer(np.arange(1, min(n, T - t) + 1) / FPS,
                                                                    velocity if moving else np.zeros(2))
        t, moving = t + n, not moving
    xy = SHAPE[None, None] + position[:, None, None] + rng.normal(0, 1.5, (T, 1, len(BODY), 2))
    return xy, np.full((T, 1, len(BODY)), 0.95), labels


def test_classifier_learns_moving_versus_still():
    from sklearn.metrics import f1_score

    train_xy, train_score, train_y = moving_or_still(0)
    test_xy, test_score, test_y = moving_or_still(1)
    train_x, names = hf.hand_features(train_xy, train_score, FPS, bodyparts=BODY, windows_s=(0.5,))
    test_x, _ = hf.hand_features(test_xy, test_score, FPS, bodyparts=BODY, windows_s=(0.5,))
    masked = train_y.copy()
    masked[:600] = -1  # not trained on
    model = hf.fit_baseline([train_x], [masked], seed=0, num_class=3, max_iter=40)
    assert model.classifier.n_features_in_ == len(names)
    assert list(model.classifier.classes_) == [0, 1]
    probs = hf.predict_baseline(model, test_x)
    assert probs.shape == (len(test_y), 3) and np.allclose(probs[:, 2], 0) and np.allclose(probs.sum(1), 1)
    assert f1_score(test_y, probs.argmax(1)) > 0.9
    smooth = hf.smooth_probs(probs, FPS, 0.5)
    assert smooth.shape == probs.shape and f1_score(test_y, smooth.argmax(1)) > 0.9


def test_fit_refuses_one_class_and_bad_labels():
    x = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    with pytest.raises(ValueError, match='need at least two'):
        hf.fit_baseline([x], [np.zeros(50, int)], seed=0)
    with pytest.raises(ValueError, match=r'labels must be -1 or in \[0, 2\)'):
        hf.fit_baseline([x], [np.arange(50) % 3], seed=0, num_class=2)
    with pytest.raises(ValueError, match='feature rows'):
        hf.fit_baseline([x], [np.zeros(49, int)], seed=0)


def test_tracking_jitter_recovers_white_noise_in_body_lengths():
    """A still mouse 100 px long with 2 px of white noise per coordinate: 0.02 body lengths, whatever the offset;
    points under pcutoff are left out."""
    rng = np.random.default_rng(3)
    T = 3000
    xy = SHAPE[None, None] + np.array([300, 250.0]) + rng.normal(0, 2.0, (T, 1, len(BODY), 2))
    score = np.ones((T, 1, len(BODY)))
    assert hf.tracking_jitter(xy, score, BODY) == pytest.approx(0.02, rel=0.05)
    wild = xy.copy()
    wild[::7] += rng.normal(0, 60.0, wild[::7].shape)   # a seventh of the frames are wild guesses...
    score[::7] = 0.1                                     # ...that DLC scored low
    assert hf.tracking_jitter(wild, score, BODY) == pytest.approx(0.02, rel=0.08)
    assert hf.tracking_jitter(xy * 2, np.ones_like(score), BODY) == pytest.approx(0.02, rel=0.05)
