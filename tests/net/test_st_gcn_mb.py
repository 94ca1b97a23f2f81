import itertools
import os

import pytest
import torch
import yaml

from net import st_gcn, st_gcn_mb
from net.utils.graph import LAYOUTS

OPTIONS = list(itertools.product(['ms', 'plain'], [True, False], [{'mean': 0.05, 'std': 0.2, 'seed': 0}, None]))
OPTION_IDS = [f'{t}-se{int(s)}-noise{int(n is not None)}' for t, s, n in OPTIONS]
CONFIG_DIR = os.path.join(os.path.dirname(__file__), '..', '..', 'config', 'st_gcn_mb')


def _model(layout='rat', num_class=5, **options):
    return st_gcn_mb.Model(3, num_class, {'layout': layout, 'strategy': 'spatial'}, **options)


@pytest.mark.parametrize('temporal,se,noise', OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize('layout', list(LAYOUTS))
def test_output_and_feature_shapes(layout, temporal, se, noise):
    torch.manual_seed(0)
    V = LAYOUTS[layout].num_node
    model = _model(layout, 4, temporal=temporal, se=se, adjacency_noise=noise, dropout=0.1).eval()
    x = torch.randn(2, 3, 16, V, 2)
    with torch.no_grad():
        features = model.forward_features(x)
        scores = model(x)
    assert features.shape == (2, 2, 256, 4, V)
    assert model.pool_features(features).shape == (2, 256)
    assert scores.shape == (2, 4)
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize('temporal,se,noise', OPTIONS, ids=OPTION_IDS)
def test_every_parameter_gets_a_gradient(temporal, se, noise):
    torch.manual_seed(0)
    model = _model(temporal=temporal, se=se, adjacency_noise=noise, dropout=0.1)
    out = model(torch.randn(2, 3, 16, 12, 1))
    out.sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
    names = dict(model.named_parameters())
    assert ('noise_scale' in names) == (noise is not None)
    assert ('st_gcn_networks.5.gcn.se.fc.0.weight' in names) == se
    assert ('st_gcn_networks.5.tcn.2.branches.4.0.weight' in names) == (temporal == 'ms')


def test_each_block_owns_one_se_of_its_width():
    model = _model(temporal='plain', adjacency_noise=None)
    widths = [block.gcn.se.fc[2].out_features for block in model.st_gcn_networks]
    assert widths == [64, 64, 64, 64, 128, 128, 128, 256, 256, 256]
    assert [block.gcn.se.fc[0].out_features for block in model.st_gcn_networks][-1] == 16
    assert sum(isinstance(m, st_gcn_mb.SqueezeExcitation) for m in model.modules()) == 10
    assert all(p.bias is None for m in model.modules() if isinstance(m, st_gcn_mb.SqueezeExcitation)
               for p in m.fc if isinstance(p, torch.nn.Linear))


def test_multi_scale_branch_widths_and_stride():
    module = st_gcn_mb.MultiScaleTemporal(64, stride=2)
    widths = [sum(p.shape[0] for n, p in b.named_parameters() if n.endswith('weight') and p.dim() == 4)
              for b in module.branches]
    # branch widths: 64 // 6 = 10, the first takes the remainder (14); each 3x1 branch has two convs of its width
    assert widths == [28, 20, 20, 20, 10, 10]
    dilations = [b[3].dilation[0] for b in module.branches[:4]]
    assert dilations == [1, 2, 3, 4]
    assert module(torch.randn(2, 64, 15, 3)).shape == (2, 64, 8, 3)


def test_noise_buffer_is_seeded_and_travels_with_the_state_dict(tmp_path):
    a = _model(adjacency_noise={'mean': 0.05, 'std': 0.2, 'seed': 3})
    b = _model(adjacency_noise={'seed': 3})  # mean and std default to 0.05 and 0.2
    c = _model(adjacency_noise={'mean': 0.05, 'std': 0.2, 'seed': 4})
    torch.testing.assert_close(a.A_noise, b.A_noise, rtol=0, atol=0)
    assert not torch.equal(a.A_noise, c.A_noise)
    assert a.A_noise.shape == a.A.shape
    assert abs(a.A_noise.mean().item() - 0.05) < 0.05 and abs(a.A_noise.std().item() - 0.2) < 0.05
    assert a.noise_scale.item() == 1.0
    with torch.no_grad():
        a.noise_scale.fill_(0.5)
    torch.save(a.state_dict(), tmp_path / 'mb.pt')
    c.load_state_dict(torch.load(tmp_path / 'mb.pt'))
    torch.testing.assert_close(c.A_noise, a.A_noise, rtol=0, atol=0)
    assert c.noise_scale.item() == 0.5


def test_noise_leaves_the_base_adjacency_and_is_shared_by_forward_and_extraction():
    torch.manual_seed(0)
    model = _model(temporal='plain', se=False).eval()
    base = model.A.clone()
    x = torch.randn(2, 3, 16, 12, 1)
    with torch.no_grad():
        scores = model(x)
        output, _ = model.extract_feature(x)
        torch.testing.assert_close(model.adjacency(), base + model.A_noise)
        with_noise = model(x)
        model.noise_scale.zero_()
        without_noise = model(x)
    torch.testing.assert_close(model.A, base, rtol=0, atol=0)
    torch.testing.assert_close(output.mean(dim=(2, 3, 4)), scores, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(with_noise, without_noise)


@pytest.mark.parametrize('edge_importance_weighting', [True, False])
def test_all_options_off_is_st_gcn(edge_importance_weighting):
    torch.manual_seed(0)
    reference = st_gcn.Model(3, 5, {'layout': 'rat', 'strategy': 'spatial'}, edge_importance_weighting, dropout=0.5)
    for module in reference.modules():  # non-trivial BN statistics so that eval mode exercises them
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    if edge_importance_weighting:
        with torch.no_grad():
            for importance in reference.edge_importance:
                importance.uniform_(0.5, 1.5)
    model = _model(edge_importance_weighting=edge_importance_weighting, temporal='plain', se=False,
                   adjacency_noise=None, dropout=0.5)
    model.load_state_dict(reference.state_dict(), strict=True)
    assert list(model.state_dict()) == list(reference.state_dict())
    x = torch.randn(3, 3, 16, 12, 2)
    reference.eval(), model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)
        torch.testing.assert_close(model.forward_features(x), reference.forward_features(x), rtol=0, atol=0)


@pytest.mark.parametrize('options,message', [
    ({'temporal': 'multi'}, "temporal: 'multi' is not one of ms, plain"),
    ({'se': 'yes'}, "se: 'yes' must be true or false"),
    ({'adjacency_noise': 0.2}, 'adjacency_noise: 0.2 must be a mapping with keys mean, std, seed or null'),
    ({'adjacency_noise': {'sigma': 0.2}}, "unknown key 'sigma' \\(allowed: mean, std, seed\\)"),
    ({'adjacency_noise': {'std': -1}}, 'adjacency_noise.std: -1 must be >= 0'),
    ({'adjacency_noise': {'seed': 1.5}}, 'adjacency_noise.seed: 1.5 must be an integer'),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        _model(**options)


@pytest.mark.parametrize('dataset', ['kinetics-skeleton', 'rat'])
@pytest.mark.parametrize('phase', ['train', 'test'])
def test_shipped_configs_build_the_multi_branch_model(dataset, phase):
    with open(os.path.join(CONFIG_DIR, dataset, f'{phase}.yaml')) as handle:
        config = yaml.safe_load(handle)
    assert config['model'] == 'net.st_gcn_mb.Model'
    model = st_gcn_mb.Model(**config['model_args'])
    assert model.temporal == 'ms' and model.se is True and model.A_noise is not None
    V = model.num_node
    assert model(torch.randn(1, 3, 16, V, 1)).shape == (1, config['model_args']['num_class'])
