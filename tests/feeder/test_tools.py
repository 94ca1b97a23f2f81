"""feeder/tools.py: the original augmentations on (C, T, V, M) arrays."""
from __future__ import annotations

import numpy as np
import pytest

from feeder import tools


def _clip(T=10, V=4, M=2, C=3, seed=0):
    return np.random.default_rng(seed).uniform(0.1, 1.0, size=(C, T, V, M))


def test_random_choose_keeps_window_size_and_takes_a_real_window():
    data = _clip(T=20)
    out = tools.random_choose(data, 8, rng=np.random.default_rng(1))
    assert out.shape == (3, 8, 4, 2)
    # the window is a contiguous run of the input's frames
    begins = [b for b in range(13) if np.array_equal(data[:, b:b + 8], out)]
    assert len(begins) == 1


def test_random_choose_pads_short_clips_only_with_auto_pad():
    data = _clip(T=5)
    out = tools.random_choose(data, 8, rng=np.random.default_rng(2))
    assert out.shape == (3, 8, 4, 2)
    nonzero = np.flatnonzero(np.abs(out).sum(axis=(0, 2, 3)))
    assert len(nonzero) == 5 and nonzero[-1] - nonzero[0] == 4
    np.testing.assert_array_equal(out[:, nonzero[0]:nonzero[0] + 5], data)
    assert tools.random_choose(data, 8, auto_pad=False) is data
    assert tools.random_choose(data, 5) is data


def test_auto_pading_pads_at_the_end_and_keeps_long_clips():
    data = _clip(T=3).astype(np.float32)
    out = tools.auto_pading(data, 6)
    assert out.shape == (3, 6, 4, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :3], data)
    assert not out[:, 3:].any()
    assert tools.auto_pading(data, 2) is data


def test_random_move_is_deterministic_with_a_seed_and_matches_a_per_frame_loop():
    data = _clip(T=12)
    original = data.copy()
    a = tools.random_move(data, move_time_candidate=[1, 2, 3], rng=np.random.default_rng(7))
    b = tools.random_move(data, move_time_candidate=[1, 2, 3], rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(data, original)  # input untouched
    np.testing.assert_array_equal(a[2], data[2])   # scores untouched

    # an affine map per frame: with a single piece (move_time 1) and one candidate for each
    # parameter, every frame gets the same rotation, scale and translation
    out = tools.random_move(data, angle_candidate=[90.], scale_candidate=[2.0], transform_candidate=[0.5],
                            rng=np.random.default_rng(0))
    np.testing.assert_allclose(out[0], -2.0 * data[1] + 0.5, atol=1e-12)
    np.testing.assert_allclose(out[1], 2.0 * data[0] + 0.5, atol=1e-12)


def test_random_move_interpolates_between_the_drawn_transforms():
    data = np.zeros((3, 5, 1, 1))
    data[0] = 1.0  # the point (1, 0)
    rng = np.random.default_rng(3)
    out = tools.random_move(data, angle_candidate=[0.], scale_candidate=[1.0],
                            transform_candidate=[-0.2, 0.2], rng=rng)
    # translations move linearly from the first drawn value to the second
    steps = np.diff(out[0, :, 0, 0])
    np.testing.assert_allclose(steps, steps[0])
    assert set(np.round([out[0, 0, 0, 0] - 1, out[0, -1, 0, 0] - 1], 6)) <= {-0.2, 0.2}


def test_random_move_uses_numpys_global_rng_without_rng():
    data = _clip()
    np.random.seed(5)
    a = tools.random_move(data)
    np.random.seed(5)
    b = tools.random_move(data)
    np.testing.assert_array_equal(a, b)


def test_random_shift_moves_the_nonempty_span():
    data = np.zeros((3, 10, 2, 1))
    data[:, 2:5] = 1.0
    out = tools.random_shift(data, rng=np.random.default_rng(4))
    frames = np.flatnonzero(out.any(axis=(0, 2, 3)))
    assert len(frames) == 3 and frames[-1] - frames[0] == 2
    assert out.sum() == data.sum()


def test_downsample_and_temporal_slice():
    data = np.arange(3 * 6 * 2 * 1, dtype=float).reshape(3, 6, 2, 1)
    np.testing.assert_array_equal(tools.downsample(data, 2, random_sample=False), data[:, 0::2])
    sliced = tools.temporal_slice(data, 2)
    assert sliced.shape == (3, 3, 2, 2)
    np.testing.assert_array_equal(sliced[:, 1, :, 0], data[:, 2, :, 0])
    np.testing.assert_array_equal(sliced[:, 1, :, 1], data[:, 3, :, 0])
    with pytest.raises(ValueError, match='T=6 frames is not a multiple of step=4'):
        tools.temporal_slice(data, 4)


def test_mean_subtractor_stops_at_the_last_nonempty_frame():
    data = np.zeros((1, 4, 1, 1))
    data[0, :2] = 3.0
    out = tools.mean_subtractor(data, 1.0)
    np.testing.assert_array_equal(out[0, :, 0, 0], [2.0, 2.0, 0.0, 0.0])
    assert tools.mean_subtractor(data, 0) is data


def test_openpose_match_follows_each_body_across_swapped_slots():
    T, V = 6, 2
    data = np.zeros((3, T, V, 2))
    data[0, :, :, 0], data[1, :, :, 0], data[2, :, :, 0] = 0.1, 0.1, 0.9   # body A, confident
    data[0, :, :, 1], data[1, :, :, 1], data[2, :, :, 1] = 0.8, 0.8, 0.5   # body B
    swapped = data.copy()
    swapped[:, 3:] = data[:, 3:, :, ::-1]  # the detector lists B first from frame 3 on
    out = tools.openpose_match(swapped)
    np.testing.assert_array_equal(out, data)
