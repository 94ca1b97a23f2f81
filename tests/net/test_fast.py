"""net.utils.fast: the swapped-in formulations compute the published function, on the published parameters."""
import json
import os

import pytest
import torch
from torch import nn

from net import st_gcn, st_gcn_mb, st_gcn_twostream
from net.utils.dropout import Dropout
from net.utils.fast import (GraphConvChannelsLast, GraphConvSEChannelsLast, accelerate, use_fast_dropout,
                            use_fast_graph_conv, use_published_dropout, use_published_graph_conv)
from net.utils.fold import FoldedGraphConv
from net.utils.graph import Graph
from net.utils.inference import predict, prepare_for_inference
from net.utils.tgcn import ConvTemporalGraphical
from torchlight.io import load_state_dict_strict

SHAPES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'reference',
                      'st_gcn_published_state_dict_shapes.json')
STRATEGIES = [('uniform', 1), ('distance', 2), ('spatial', 3)]  # K = 1, 2, 3 partitions
RAT = {'layout': 'rat', 'strategy': 'spatial'}


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def adjacency(strategy, dtype=torch.float32, layout='openpose'):
    A = torch.tensor(Graph(layout=layout, strategy=strategy).A, dtype=dtype)
    return A * (torch.rand_like(A) + 0.5)  # as after edge-importance weighting


def values_and_grads(gcn, x, A):
    out, _ = gcn(x, A)
    params = [x, A] + list(gcn.parameters())
    return out, torch.autograd.grad(out.square().sum(), params)


@pytest.mark.parametrize('strategy,K', STRATEGIES)
@pytest.mark.parametrize('dtype,tol', [(torch.float32, (1e-5, 1e-4)), (torch.float64, (1e-12, 1e-10))])
@pytest.mark.parametrize('c_in,c_out', [(3, 16), (16, 8)])
def test_channels_last_forward_and_backward_equal_the_published(strategy, K, dtype, tol, c_in, c_out):
    torch.manual_seed(0)
    A = adjacency(strategy, dtype).requires_grad_(True)
    assert A.size(0) == K
    published = ConvTemporalGraphical(c_in, c_out, K).to(dtype)
    fast = GraphConvChannelsLast(published)
    assert fast.conv is published.conv  # the same parameters
    x = torch.randn(2, c_in, 5, A.size(1), dtype=dtype, requires_grad=True)
    expected, expected_grads = values_and_grads(published, x, A)
    out, grads = values_and_grads(fast, x, A)
    assert out.dtype == dtype and out.shape == expected.shape == (2, c_out, 5, A.size(1))
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert rel_err(out, expected) < tol[0]
    for g, g_ref in zip(grads, expected_grads):  # x, A, conv.weight, conv.bias
        assert rel_err(g, g_ref) < tol[1]


@pytest.mark.parametrize('strategy,K', STRATEGIES)
def test_channels_last_under_bf16_autocast_is_close_to_the_published(strategy, K):
    torch.manual_seed(0)
    A = adjacency(strategy).requires_grad_(True)
    published = ConvTemporalGraphical(16, 32, K)
    x = torch.randn(2, 16, 5, A.size(1), requires_grad=True)
    expected, expected_grads = values_and_grads(published, x, A)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out, _ = GraphConvChannelsLast(published)(x, A)
    assert out.dtype == torch.bfloat16
    grads = torch.autograd.grad(out.float().square().sum(), [x, A] + list(published.parameters()))
    assert rel_err(out.float(), expected) < 3e-2
    for g, g_ref in zip(grads, expected_grads):
        assert g.dtype == torch.float32 and rel_err(g, g_ref) < 5e-2


def test_squeeze_excitation_counterpart_equals_graph_conv_se():
    torch.manual_seed(0)
    A = adjacency('spatial', layout='rat').requires_grad_(True)
    published = st_gcn_mb.GraphConvSE(16, 32, 3)
    fast = GraphConvSEChannelsLast(published)
    assert fast.se is published.se and list(fast.state_dict()) == list(published.state_dict())
    x = torch.randn(2, 16, 5, 12, requires_grad=True)
    expected, expected_grads = values_and_grads(published, x, A)
    out, grads = values_and_grads(fast, x, A)
    assert rel_err(out, expected) < 1e-5
    assert all(rel_err(g, r) < 1e-4 for g, r in zip(grads, expected_grads))


def test_a_wrong_partition_count_is_named_by_every_formulation():
    gcn = ConvTemporalGraphical(4, 8, 3)
    A = torch.rand(2, 5, 5)
    for module in (gcn, GraphConvChannelsLast(gcn)):
        with pytest.raises(ValueError, match='adjacency has 2 partitions, the graph convolution expects 3'):
            module(torch.randn(1, 4, 3, 5), A)


MODELS = {
    'st_gcn': lambda: st_gcn.Model(3, 5, RAT, dropout=0.5),
    'st_gcn_mb': lambda: st_gcn_mb.Model(3, 5, RAT, dropout=0.5),
    'twostream': lambda: st_gcn_twostream.Model(3, 5, RAT, dropout=0.5),
}
SWITCHED = {'st_gcn': (10, 10), 'st_gcn_mb': (10, 10), 'twostream': (20, 20)}  # (graph convolutions, dropouts)


@pytest.mark.parametrize('name', list(MODELS))
def test_switch_keeps_state_dict_keys_tensors_and_parameters(name):
    torch.manual_seed(0)
    model = MODELS[name]()
    before = model.state_dict()
    params = list(model.named_parameters())
    state = torch.get_rng_state()
    assert accelerate(model, 'cpu') is model
    assert torch.equal(torch.get_rng_state(), state)  # switching draws no random numbers
    after = model.state_dict()
    assert list(after) == list(before)
    assert all(after[k] is before[k] or after[k].data_ptr() == before[k].data_ptr() for k in before)
    assert [(n, id(p)) for n, p in model.named_parameters()] == [(n, id(p)) for n, p in params]
    assert sum(isinstance(m, GraphConvChannelsLast) for m in model.modules()) == SWITCHED[name][0]
    assert sum(type(m) is Dropout for m in model.modules()) == SWITCHED[name][1]
    assert not any(type(m) in (ConvTemporalGraphical, st_gcn_mb.GraphConvSE, nn.Dropout) for m in model.modules())


@pytest.mark.parametrize('name', list(MODELS))
def test_switched_model_computes_the_published_function(name):
    torch.manual_seed(0)
    published = MODELS[name]()
    for module in published.modules():  # non-trivial BatchNorm statistics for eval mode
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    switched = MODELS[name]()
    switched.load_state_dict(published.state_dict())
    accelerate(switched, 'cpu')
    # float64, so that rounding cannot move a ReLU input across 0 and change a gradient
    published, switched = published.double().eval(), switched.double().eval()
    x = torch.randn(2, 3, 16, 12, 1, dtype=torch.float64)
    expected, out = published(x), switched(x)
    assert rel_err(out, expected) < 1e-12
    grads = torch.autograd.grad(out.square().sum(), list(switched.parameters()))
    expected_grads = torch.autograd.grad(expected.square().sum(), list(published.parameters()))
    assert all(rel_err(g, r) < 1e-9 for g, r in zip(grads, expected_grads) if r.abs().max() > 0)


def test_optimiser_step_on_the_switched_model_updates_the_published_parameters():
    torch.manual_seed(0)
    # no dropout, and float64: both models then compute the same step to rounding
    published = st_gcn.Model(3, 5, RAT, dropout=0.0).double()
    switched = st_gcn.Model(3, 5, RAT, dropout=0.0).double()
    switched.load_state_dict(published.state_dict())
    start = {k: v.clone() for k, v in switched.state_dict().items()}
    optimisers = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (published, switched)]
    accelerate(switched, 'cpu')  # after the optimiser was built, as the processor may do
    x, y = torch.randn(4, 3, 16, 12, 1, dtype=torch.float64), torch.tensor([0, 1, 2, 3])
    for model, optimiser in zip((published, switched), optimisers):
        nn.functional.cross_entropy(model(x), y).backward()
        optimiser.step()
    weight = 'st_gcn_networks.4.gcn.conv.weight'
    assert not torch.equal(switched.state_dict()[weight], start[weight])  # the published tensor moved
    assert any(p is switched.st_gcn_networks[4].gcn.conv.weight for p in optimisers[1].param_groups[0]['params'])
    for key, value in published.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(switched.state_dict()[key], value, rtol=1e-9, atol=1e-12), key


def _fabricate(shapes):
    g = torch.Generator().manual_seed(0)
    return {k: (torch.tensor(7) if k.endswith('num_batches_tracked') else torch.rand(s, generator=g) + 0.5)
            for k, s in shapes.items()}


@pytest.mark.skipif(not os.path.isfile(SHAPES), reason='../shared/reference absent')
@pytest.mark.parametrize('kind,layout,num_class', [('kinetics', 'openpose', 400), ('ntu', 'ntu-rgb+d', 60)])
def test_published_checkpoint_loads_before_and_after_switching(tmp_path, kind, layout, num_class):
    with open(SHAPES) as handle:
        shapes = json.load(handle)[kind]
    path = tmp_path / 'published.pt'
    torch.save(_fabricate(shapes), path)
    graph = {'layout': layout, 'strategy': 'spatial'}
    before = st_gcn.Model(3, num_class, graph, dropout=0.5)
    load_state_dict_strict(before, str(path))
    accelerate(before, 'cpu')  # switched after loading
    after = accelerate(st_gcn.Model(3, num_class, graph, dropout=0.5), 'cpu')
    load_state_dict_strict(after, str(path))  # loaded after switching
    for model in (before, after):
        assert {k: list(v.shape) for k, v in model.state_dict().items()} == shapes
        torch.testing.assert_close(model.st_gcn_networks[3].gcn.conv.weight,
                                   torch.load(path)['st_gcn_networks.3.gcn.conv.weight'])
    torch.save(after.state_dict(), tmp_path / 'switched.pt')  # a switched model's checkpoint fits the published one
    load_state_dict_strict(st_gcn.Model(3, num_class, graph), str(tmp_path / 'switched.pt'))


def test_switches_are_idempotent_and_reversible():
    torch.manual_seed(0)
    model = st_gcn_mb.Model(3, 5, RAT, dropout=0.5).eval()
    convs = [block.gcn.conv for block in model.st_gcn_networks]
    x = torch.randn(2, 3, 16, 12, 1)
    expected = model(x)
    assert (use_fast_graph_conv(model), use_fast_dropout(model)) == (10, 10)
    assert (use_fast_graph_conv(model), use_fast_dropout(model)) == (0, 0)  # nothing switched twice
    state = torch.get_rng_state()
    assert (use_published_graph_conv(model), use_published_dropout(model)) == (10, 10)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(type(block.gcn) is st_gcn_mb.GraphConvSE for block in model.st_gcn_networks)
    assert [block.gcn.conv for block in model.st_gcn_networks] == convs  # the same modules, not copies
    assert not any(p.is_meta for p in model.parameters())
    assert sum(type(m) is nn.Dropout for m in model.modules()) == 10
    assert not any(m.training for m in model.modules())  # the modules put in took the model's eval mode
    assert torch.equal(model(x), expected)


def test_accelerate_elsewhere_than_cpu_switches_nothing():
    model = st_gcn.Model(3, 5, RAT, dropout=0.5)
    accelerate(model, torch.device('cuda'))  # a device type only: nothing is moved
    assert not any(isinstance(m, (GraphConvChannelsLast, Dropout)) for m in model.modules())


def test_a_module_at_two_places_is_replaced_by_one_module():
    gcn = ConvTemporalGraphical(4, 8, 3)
    model = nn.ModuleList([gcn, gcn])
    assert use_fast_graph_conv(model) == 1
    assert isinstance(model[0], GraphConvChannelsLast) and model[0] is model[1]


@pytest.mark.parametrize('name', list(MODELS))
def test_inference_copy_of_a_switched_model_leaves_it_bit_identical(name):
    torch.manual_seed(0)
    model = accelerate(MODELS[name](), 'cpu')
    modules = [(n, id(m), type(m)) for n, m in model.named_modules()]
    params = [(n, id(p)) for n, p in model.named_parameters()]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    prepared = prepare_for_inference(model)
    assert [(n, id(m), type(m)) for n, m in model.named_modules()] == modules
    assert [(n, id(p)) for n, p in model.named_parameters()] == params
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
    assert model.training and all(p.requires_grad for p in model.parameters())
    folded = sum(isinstance(m, FoldedGraphConv) for m in prepared.modules())
    assert folded == (0 if name == 'st_gcn_mb' else SWITCHED[name][0])  # the multi-branch default has SE
    model.eval()
    x = torch.randn(3, 3, 16, 12, 1)
    with torch.no_grad():
        expected = model(x)
    assert rel_err(predict(prepared, x, micro_batch=2), expected) < 1e-4
