import numpy as np
import pytest
import torch
import torch.nn.functional as F

from net import st_gcn, st_gcn_dense
from net.st_gcn_dense import dense_loss, frames_from_features
from net.utils.graph import LAYOUTS
from processor.ethogram import stitch_frames, window_starts, window_weights

RAT = {'layout': 'rat', 'strategy': 'spatial'}


def _model(num_class=4, graph_args=RAT, **options):
    return st_gcn_dense.Model(3, num_class, graph_args, **options)


def _randomise_statistics(model):
    """Non-trivial BatchNorm statistics and edge importances, so that eval mode exercises them."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
        for importance in model.edge_importance:
            importance.uniform_(0.5, 1.5)
    return model


# ---------------------------------------------------------------- shapes and gradients
@pytest.mark.parametrize('T', [64, 50])
def test_shapes_gradients_no_nan(T):
    torch.manual_seed(0)
    model = _model(4, head_stages=3, head_layers=4, dropout=0.1)
    x = torch.randn(2, 3, T, 12, 2)
    stages = model.forward_stages(x)
    assert len(stages) == 3 and all(s.shape == (2, 4, T) for s in stages)
    features = model.forward_features(x)
    assert features.shape == (2, 2, 256, (T + 3) // 4, 12)
    assert model.pool_features(features, T).shape == (2, 256, T)
    labels = torch.randint(0, 4, (2, T))
    loss = dense_loss(stages, labels)
    assert torch.isfinite(loss)
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
    model.eval()
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(out, model.forward_stages(x)[-1])
        scores, feature_map = model.extract_feature(x)
    assert out.shape == (2, 4, T) and torch.isfinite(out).all()
    torch.testing.assert_close(scores, out)
    assert feature_map.shape == (2, 256, (T + 3) // 4, 12, 2)


@pytest.mark.parametrize('layout', ['rat', 'openpose'])
def test_layout_smoke(layout):
    torch.manual_seed(0)
    V = LAYOUTS[layout].num_node
    model = _model(5, {'layout': layout, 'strategy': 'spatial'}, head_layers=3).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 30, V, 1))
    assert out.shape == (1, 5, 30) and torch.isfinite(out).all()
    assert not hasattr(model, 'fcn')
    assert all(not k.startswith('fcn.') for k in model.state_dict())


def test_bad_head_options_are_named():
    with pytest.raises(ValueError, match="upsample: 'cubic' is not one of linear, nearest"):
        _model(upsample='cubic')
    with pytest.raises(ValueError, match="individual_pool: 'sum' is not one of mean, max"):
        _model(individual_pool='sum')
    with pytest.raises(ValueError, match='head_stages: 0 must be an integer >= 1'):
        _model(head_stages=0)
    with pytest.raises(ValueError, match=r'head_dropout: 1.5 must be a number in \[0, 1\)'):
        _model(head_dropout=1.5)


def test_frames_from_features_keeps_each_position_on_its_frame():
    x = torch.tensor([[[0.0, 4.0, 8.0, 12.0]]])  # (1, 1, 4): position u holds 4u, the frame it is centred on
    torch.testing.assert_close(frames_from_features(x, 16, 4, 'linear')[0, 0],
                               torch.tensor([0.0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12, 12, 12]))
    torch.testing.assert_close(frames_from_features(x, 14, 4, 'linear')[0, 0], torch.arange(14.0).clamp(max=12))
    torch.testing.assert_close(frames_from_features(x, 13, 4, 'nearest')[0, 0],
                               torch.tensor([0.0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12]))
    with pytest.raises(ValueError, match="T'=4 positions comes from 13 to 16 frames .* not 20"):
        frames_from_features(x, 20, 4)


def test_individual_pooling():
    torch.manual_seed(0)
    features = torch.randn(2, 3, 256, 5, 12)  # (N, M, C, T', V)
    mean = _model(individual_pool='mean').pool_features(features, 20)
    peak = _model(individual_pool='max').pool_features(features, 20)
    per_individual = features.mean(dim=4)  # (N, M, C, T')
    torch.testing.assert_close(mean[..., ::4], per_individual.mean(dim=1))
    torch.testing.assert_close(peak[..., ::4], per_individual.amax(dim=1))


# ---------------------------------------------------------------- loss
def test_unlabelled_frames_do_not_contribute():
    torch.manual_seed(0)
    scores = [torch.randn(2, 3, 20, requires_grad=True) for _ in range(2)]
    labels = torch.randint(0, 3, (2, 20))
    labels[0, 5:9] = -1
    labels[1, :3] = -1
    labels[1, 19] = -1
    unlabelled = labels == -1
    loss = dense_loss(scores, labels, smooth_weight=0.15)
    loss.backward()
    for s in scores:
        assert (s.grad.permute(0, 2, 1)[unlabelled] == 0).all()
        assert (s.grad.permute(0, 2, 1)[~unlabelled].abs().sum(dim=1) > 0).all()
    changed = [s.detach().clone() for s in scores]
    for s in changed:
        s.permute(0, 2, 1)[unlabelled] = torch.randn(int(unlabelled.sum()), 3) * 10
    torch.testing.assert_close(dense_loss(changed, labels), loss.detach())
    # the same loss as the labelled frames alone, cut into runs: the cross-entropy is the mean over labelled frames
    ce = F.cross_entropy(scores[0].detach().permute(0, 2, 1)[~unlabelled], labels[~unlabelled])
    torch.testing.assert_close(dense_loss(scores[0].detach(), labels, smooth_weight=0), ce)
    nothing = torch.full((2, 20), -1)
    assert dense_loss(scores, nothing).item() == 0.0


def test_class_weights_act():
    torch.manual_seed(0)
    scores = torch.randn(1, 3, 30)
    labels = torch.randint(0, 3, (1, 30))
    labels[0, :3] = torch.tensor([0, 1, 2])
    only_zero = dense_loss(scores, labels, class_weight=torch.tensor([1.0, 0.0, 0.0]), smooth_weight=0)
    zero = labels[0] == 0
    torch.testing.assert_close(only_zero, F.cross_entropy(scores[0].t()[zero], labels[0][zero]))
    weight = torch.tensor([0.5, 2.0, 1.0])
    torch.testing.assert_close(dense_loss(scores, labels, class_weight=weight, smooth_weight=0),
                               F.cross_entropy(scores, labels, weight=weight))
    torch.testing.assert_close(dense_loss(scores, labels, class_weight=torch.full((3,), 7.0), smooth_weight=0),
                               dense_loss(scores, labels, smooth_weight=0))
    assert not torch.allclose(dense_loss(scores, labels, class_weight=weight), dense_loss(scores, labels))


def test_smoothing_term_is_truncated_and_summed_over_stages():
    labels = torch.zeros(1, 4, dtype=torch.long)
    flat = torch.zeros(1, 2, 4)
    assert dense_loss(flat, labels, smooth_weight=1.0).item() == pytest.approx(np.log(2))  # no change: CE only
    jump = torch.tensor([[[0.0, 0.0, 20.0, 20.0], [0.0, 0.0, 0.0, 0.0]]])  # one big jump between frames 1 and 2
    log_p = F.log_softmax(jump, dim=1)
    ce = -log_p[0, 0].mean()
    squared = (log_p[0, :, 2] - log_p[0, :, 1]).pow(2).clamp(max=16.0)  # the class-1 change (~20) is cut at 16
    assert squared[1].item() == 16.0
    expected = ce + 0.15 * squared.sum() / (3 * 2)  # mean over 3 pairs and 2 classes
    torch.testing.assert_close(dense_loss(jump, labels), expected)
    torch.testing.assert_close(dense_loss([jump, flat], labels), dense_loss(jump, labels) + dense_loss(flat, labels))


def test_loss_refuses_bad_labels():
    scores = torch.zeros(1, 3, 5)
    with pytest.raises(ValueError, match=r'labels must be in 0..2 or -1 \(unlabelled\), found 0..3'):
        dense_loss(scores, torch.tensor([[0, 1, 3, -1, 2]]))
    with pytest.raises(ValueError, match=r'labels have shape \(1, 4\)'):
        dense_loss(scores, torch.zeros(1, 4, dtype=torch.long))


# ---------------------------------------------------------------- initialising from a clip model
def test_clip_model_backbone_loads_and_skipped_keys_are_reported():
    torch.manual_seed(0)
    clip = _randomise_statistics(st_gcn.Model(3, 7, RAT, dropout=0.5)).eval()
    dense = _model(4, dropout=0.5)
    head_before = {k: v.clone() for k, v in dense.state_dict().items() if k.startswith('stages.')}
    skipped = dense.load_backbone({'module.' + k: v for k, v in clip.state_dict().items()})
    assert skipped == ['fcn.bias', 'fcn.weight']
    dense.eval()
    x = torch.randn(2, 3, 24, 12, 1)
    with torch.no_grad():
        torch.testing.assert_close(dense.forward_features(x), clip.forward_features(x), rtol=0, atol=0)
    for key, value in head_before.items():
        torch.testing.assert_close(dense.state_dict()[key], value, rtol=0, atol=0)
    backbone = [k for k in dense.state_dict() if not k.startswith('stages.')]
    assert backbone == [k for k in clip.state_dict() if not k.startswith('fcn.')]


def test_a_backbone_that_does_not_fit_is_refused_by_name():
    dense = _model(4)
    wrong_channels = st_gcn.Model(5, 4, RAT).state_dict()
    with pytest.raises(ValueError, match=r'clip.pt: .*mis-shaped keys: data_bn.weight \(clip.pt \(60,\), model '
                                         r'\(36,\)\)'):
        dense.load_backbone(wrong_channels, source='clip.pt')
    partial = st_gcn.Model(3, 4, RAT).state_dict()
    del partial['st_gcn_networks.3.tcn.2.weight']
    with pytest.raises(ValueError, match=r'missing backbone keys: st_gcn_networks.3.tcn.2.weight'):
        dense.load_backbone(partial)


# ---------------------------------------------------------------- receptive field and stitching
@pytest.mark.parametrize('upsample', ['linear', 'nearest'])
def test_receptive_field_matches_the_measured_one(upsample):
    torch.manual_seed(0)
    model = _randomise_statistics(_model(3, head_stages=2, head_layers=2, upsample=upsample)).double().eval()
    R = model.receptive_field()
    assert R == 76 + (3 if upsample == 'linear' else 2) + 2 * 3
    assert _model(3).receptive_field() == 76 + 3 + 2 * 255  # the defaults
    # the input frames with a non-zero gradient of one output frame, for the four phases of the stride; gradients
    # rather than perturbations, because the farthest paths are tiny (1e-13) and rounding can swallow them
    T = 256
    left = right = 0
    for t in range(128, 132):
        x = torch.randn(1, 3, T, 12, 1, dtype=torch.float64, requires_grad=True)
        model(x)[0, :, t].sum().backward()
        frames = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 3, 4))).flatten()
        left, right = max(left, t - frames.min().item()), max(right, frames.max().item() - t)
    assert max(left, right) == R and min(left, right) >= R - 1


def test_stitched_windows_equal_one_long_pass():
    torch.manual_seed(0)
    model = _randomise_statistics(_model(3, head_stages=2, head_layers=2)).eval()
    R = model.receptive_field()  # 85
    T, window = 448, 256
    starts = window_starts(T, window, 64)  # 0, 64, 128, 192: multiples of the temporal stride
    assert list(starts) == [0, 64, 128, 192] and window - 2 * R >= 64
    x = torch.randn(1, 3, T, 12, 1)
    with torch.no_grad():
        whole = F.softmax(model(x), dim=1)[0].t().numpy()  # (T, K)
        windows = torch.cat([x[:, :, s:s + window] for s in starts])  # (W, C, window, V, M)
        scores = F.softmax(model(windows), dim=1).numpy()  # (W, K, window)
    stitched = stitch_frames(scores, starts, T, weighting='centre', margin=R)
    np.testing.assert_allclose(stitched, whole, rtol=0, atol=1e-5)
    plain = stitch_frames(scores, starts, T)  # no margin: windows' edges, which lack context, count too
    assert np.abs(plain - whole).max() > 1e-4


def test_stitch_frames_hand_made():
    assert window_weights(5).tolist() == [1, 2, 3, 2, 1]
    assert window_weights(6, 'uniform', 2).tolist() == [0, 0, 1, 1, 0, 0]
    # two windows of 4 frames over 6 frames, one class: window 0 says 1, window 1 says 3 everywhere
    scores = np.array([[[1.0] * 4], [[3.0] * 4]])  # (W=2, K=1, window=4)
    starts = np.array([0, 2])
    assert stitch_frames(scores, starts, 6, 'uniform')[:, 0].tolist() == [1, 1, 2, 2, 3, 3]
    # centre weights [1, 2, 2, 1]: frame 2 is window 0's position 2 (2) and window 1's position 0 (1)
    centre = stitch_frames(scores, starts, 6, 'centre')[:, 0]
    np.testing.assert_allclose(centre, [1, 1, (2 * 1 + 1 * 3) / 3, (1 * 1 + 2 * 3) / 3, 3, 3])
    # margin 1: frame 2 comes from window 0 alone, frame 3 from window 1; the recording's ends are kept
    np.testing.assert_allclose(stitch_frames(scores, starts, 6, 'uniform', margin=1)[:, 0], [1, 1, 1, 3, 3, 3])
    # several classes keep their own columns
    two = np.concatenate([scores, 10 * scores], axis=1)  # (2, 2, 4)
    np.testing.assert_allclose(stitch_frames(two, starts, 6, 'uniform')[:, 1], [10, 10, 20, 20, 30, 30])


def test_stitch_frames_refuses_gaps_and_bad_shapes():
    scores = np.ones((2, 1, 4))
    with pytest.raises(ValueError, match=r'frames 2..3 \(2 frames\) get no weight'):
        stitch_frames(scores, np.array([0, 2]), 6, margin=2)
    with pytest.raises(ValueError, match=r'frames 4..5 \(2 frames\) get no weight'):
        stitch_frames(scores, np.array([0, 0]), 6)
    with pytest.raises(ValueError, match='must be \\(W, K, window\\)'):
        stitch_frames(np.ones((2, 4)), np.array([0, 2]), 6)
    with pytest.raises(ValueError, match='do not fit in 5 frames'):
        stitch_frames(scores, np.array([0, 2]), 5)
    with pytest.raises(ValueError, match="weighting 'hann': allowed values are centre, uniform"):
        stitch_frames(scores, np.array([0, 2]), 6, weighting='hann')
