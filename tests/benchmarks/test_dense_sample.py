"""benchmarks/dense_sample.py: stitched recordings continue where the previous behaviour ended, inside the arena."""
import os
import sys

import numpy as np

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
import dense_sample as ds  # noqa: E402
from tools import make_sample_data as msd  # noqa: E402


def test_each_segment_starts_where_the_previous_one_ended():
    rng = np.random.default_rng(1)
    animal = msd.make_animal(rng, 480.0)
    segments = [msd.simulate_recording(behaviour, animal, rng, n_frames=90)
                for behaviour in ('walking', 'grooming', 'walking', 'turning', 'rearing', 'walking')]
    data, turns, jumps = ds.stitch(segments)
    assert data.shape == (6 * 90, len(msd.BODYPARTS), 3) and data.dtype == np.float32
    np.testing.assert_array_equal(data[..., 2], np.concatenate(segments)[..., 2])      # likelihoods untouched
    for boundary in range(90, 6 * 90, 90):
        end_centre, end_heading = ds._pose_frame(data, boundary - 1)
        start_centre, start_heading = ds._pose_frame(data, boundary)
        step = np.hypot(*(ds._pose_frame(data, boundary - 1)[0] - ds._pose_frame(data, boundary - 2)[0]))
        if jumps == 0:
            assert np.allclose(start_centre, end_centre, atol=1e-3)
            turn = np.angle(np.exp(1j * (start_heading - end_heading)))
            assert min(abs(turn - k * np.pi / 4) for k in range(-4, 5)) < 1e-3   # same heading, or 45-degree steps
        assert step < 20                                                       # no jumps inside a segment either
    confident = data[..., :2][data[..., 2] >= 0.6]
    assert (confident >= 0).all() and (confident[:, 0] <= 1279).all() and (confident[:, 1] <= 959).all()
    assert turns + jumps < len(segments) - 1


def test_the_recordings_and_their_labels_line_up(tmp_path):
    recordings = ds.make_recordings(str(tmp_path), count=2, seconds=20)
    task = ds.sample_task(recordings)
    for name in recordings:
        truth = ds.rl.truth_of(task, str(tmp_path), name, 10 ** 4)
        labelled = truth[truth >= 0]
        assert len(labelled) >= 20 * ds.FPS and (truth[len(labelled):] == -1).all()
        assert len(np.unique(labelled)) >= 2       # several behaviours in one recording, never twice in a row
        changes = np.flatnonzero(np.diff(labelled)) + 1
        assert np.diff(np.r_[0, changes, len(labelled)]).min() >= ds.FPS
