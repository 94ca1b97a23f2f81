import json
import os
from collections import OrderedDict

import pytest
import torch

from net import st_gcn, st_gcn_twostream
from net.utils.graph import LAYOUTS, STRATEGIES
from torchlight.io import load_state_dict_strict

SHAPES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'reference',
                      'st_gcn_published_state_dict_shapes.json')


@pytest.mark.parametrize('layout', list(LAYOUTS))
@pytest.mark.parametrize('strategy', STRATEGIES)
def test_forward_shape_gradients_no_nan(layout, strategy):
    torch.manual_seed(0)
    V = LAYOUTS[layout].num_node
    model = st_gcn.Model(3, 5, {'layout': layout, 'strategy': strategy}, edge_importance_weighting=True,
                         dropout=0.1)
    x = torch.randn(2, 3, 16, V, 2)
    out = model(x)
    assert out.shape == (2, 5)
    out.sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
    assert torch.isfinite(out).all()


def test_forward_and_extract_feature_share_one_path():
    torch.manual_seed(0)
    model = st_gcn.Model(3, 7, {'layout': 'rat', 'strategy': 'spatial'}).eval()
    x = torch.randn(3, 3, 32, 12, 2)
    with torch.no_grad():
        scores = model(x)
        output, feature = model.extract_feature(x)
        embedding = model.pool_features(model.forward_features(x))
    assert output.shape == (3, 7, 8, 12, 2) and feature.shape == (3, 256, 8, 12, 2)
    torch.testing.assert_close(output.mean(dim=(2, 3, 4)), scores, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(feature.mean(dim=(2, 3)).mean(dim=-1), embedding)
    assert embedding.shape == (3, 256)


def test_wrong_joint_count_names_both_numbers():
    model = st_gcn.Model(3, 5, {'layout': 'rat', 'strategy': 'spatial'})
    with pytest.raises(ValueError, match='V=18 joints but the graph has 12 nodes'):
        model(torch.randn(1, 3, 16, 18, 1))


def test_twostream_motion_and_shapes():
    x = torch.arange(5, dtype=torch.float32).pow(2).view(1, 1, 5, 1, 1).expand(1, 3, 5, 12, 1)
    m = st_gcn_twostream.motion(x)
    assert m[0, 0, :, 0, 0].tolist() == [0.0, -1.0, -1.0, -1.0, 0.0]  # t^2 - ((t-1)^2 + (t+1)^2)/2 = -1
    model = st_gcn_twostream.Model(3, 4, {'layout': 'rat', 'strategy': 'spatial'})
    out = model(torch.randn(2, 3, 16, 12, 1))
    assert out.shape == (2, 4)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def _published(kind: str) -> dict:
    with open(SHAPES) as handle:
        return json.load(handle)[kind]


def _fabricate(shapes: dict, prefix: str = '', with_tracked: bool = False) -> OrderedDict:
    g = torch.Generator().manual_seed(0)
    state = OrderedDict()
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            if with_tracked:
                state[prefix + key] = torch.tensor(7)
            continue
        state[prefix + key] = torch.rand(shape, generator=g) + 0.5
    return state


@pytest.mark.skipif(not os.path.isfile(SHAPES), reason='../shared/reference absent')
@pytest.mark.parametrize('kind,layout,num_class', [('kinetics', 'openpose', 400), ('ntu', 'ntu-rgb+d', 60)])
@pytest.mark.parametrize('prefix', ['', 'module.'])
def test_published_format_checkpoint_loads(tmp_path, kind, layout, num_class, prefix):
    shapes = _published(kind)
    model = st_gcn.Model(3, num_class, {'layout': layout, 'strategy': 'spatial'}, True, dropout=0.5)
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == shapes
    state = _fabricate(shapes, prefix)
    path = tmp_path / 'published.pt'
    torch.save(state, path)
    load_state_dict_strict(model, str(path))
    torch.testing.assert_close(model.fcn.weight, state[prefix + 'fcn.weight'])
    torch.testing.assert_close(model.edge_importance[3], state[prefix + 'edge_importance.3'])


@pytest.mark.skipif(not os.path.isfile(SHAPES), reason='../shared/reference absent')
def test_mis_shaped_missing_and_unexpected_keys_are_named(tmp_path):
    shapes = _published('kinetics')
    model = st_gcn.Model(3, 400, {'layout': 'openpose', 'strategy': 'spatial'})
    state = _fabricate(shapes)
    state['st_gcn_networks.2.tcn.2.weight'] = torch.zeros(64, 64, 3, 1)
    torch.save(state, tmp_path / 'bad.pt')
    with pytest.raises(ValueError, match=r'mis-shaped keys: st_gcn_networks\.2\.tcn\.2\.weight \(file \(64, 64, 3, 1\)'):
        load_state_dict_strict(model, str(tmp_path / 'bad.pt'))
    state = _fabricate(shapes)
    del state['data_bn.weight']
    state['head.extra'] = torch.zeros(1)
    torch.save(state, tmp_path / 'partial.pt')
    with pytest.raises(ValueError, match=r'missing keys: data_bn\.weight; unexpected keys: head\.extra'):
        load_state_dict_strict(model, str(tmp_path / 'partial.pt'))
    # a checkpoint of the NTU model does not load into the Kinetics one
    torch.save(_fabricate(_published('ntu')), tmp_path / 'ntu.pt')
    with pytest.raises(ValueError, match=r'mis-shaped keys: A \(file \(3, 25, 25\), model \(3, 18, 18\)\)'):
        load_state_dict_strict(model, str(tmp_path / 'ntu.pt'))


def test_ignore_weights_allows_a_new_head(tmp_path):
    source = st_gcn.Model(3, 10, {'layout': 'rat', 'strategy': 'spatial'})
    torch.save(source.state_dict(), tmp_path / 'w.pt')
    target = st_gcn.Model(3, 4, {'layout': 'rat', 'strategy': 'spatial'})
    with pytest.raises(ValueError, match='fcn.weight'):
        load_state_dict_strict(target, str(tmp_path / 'w.pt'))
    load_state_dict_strict(target, str(tmp_path / 'w.pt'), ignore_weights=['fcn'])
    torch.testing.assert_close(target.data_bn.weight, source.data_bn.weight)


def test_missing_weights_file_is_a_clear_error(tmp_path):
    model = st_gcn.Model(3, 4, {'layout': 'rat', 'strategy': 'spatial'})
    with pytest.raises(FileNotFoundError, match='nothing.pt: weights file not found'):
        load_state_dict_strict(model, str(tmp_path / 'nothing.pt'))
    (tmp_path / 'junk.pt').write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='junk.pt: not a loadable PyTorch weights file'):
        load_state_dict_strict(model, str(tmp_path / 'junk.pt'))
