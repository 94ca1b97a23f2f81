"""The optimised graph convolution and inference path give the same numbers as the plain formulation."""
import numpy as np
import pytest
import torch
from torch import nn

from net import st_gcn, st_gcn_mb, st_gcn_twostream
from net.utils.fast import GraphAggregate, GraphConvChannelsLast, accelerate, use_fast_graph_conv
from net.utils.fold import FoldedGraphConv, fold_batchnorms, fold_graph_conv_batchnorms
from net.utils.graph import Graph
from net.utils.inference import compile_for_inference, prepare_for_inference, predict
from net.utils.tgcn import ConvTemporalGraphical


def plain_graph_conv(x, conv, A):
    """The original formulation: 1x1 conv to K*C_out channels, then an einsum over (k, v)."""
    y = conv(x)  # (N, K*C, T, V)
    n, kc, t, v = y.size()
    K = A.size(0)
    return torch.einsum('nkctv,kvw->nctw', y.view(n, K, kc // K, t, v), A)


def randomise_batchnorms(model):
    """Non-trivial running statistics and affine parameters, so folding BN is really tested."""
    gen = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            c = module.num_features
            module.running_mean.copy_(torch.rand(c, generator=gen) - 0.5)
            module.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            module.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
            module.bias.data.copy_(torch.rand(c, generator=gen) * 0.4 - 0.2)
    return model


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize('layout,strategy', [('openpose', 'spatial'), ('rat', 'spatial'), ('rat', 'uniform'),
                                             ('openpose', 'distance')])
@pytest.mark.parametrize('c_in,c_out', [(3, 16), (16, 16), (16, 8)])
@pytest.mark.parametrize('path', ['published', 'channels_last'])
def test_graph_conv_orders_match_plain_einsum(layout, strategy, c_in, c_out, path):
    torch.manual_seed(0)
    A = torch.tensor(Graph(layout=layout, strategy=strategy).A, dtype=torch.float32)
    A = A * (torch.rand_like(A) + 0.5)  # as after edge-importance weighting
    gcn = ConvTemporalGraphical(c_in, c_out, A.size(0))
    if path == 'channels_last':
        gcn = GraphConvChannelsLast(gcn)
    x = torch.randn(3, c_in, 7, A.size(1), requires_grad=True)
    A.requires_grad_(True)
    out, _ = gcn(x, A)
    expected = plain_graph_conv(x, gcn.conv, A)
    assert out.shape == expected.shape == (3, c_out, 7, A.size(1))
    assert rel_err(out, expected) < 1e-5
    grads = torch.autograd.grad(out.square().sum(), [x, A, gcn.conv.weight, gcn.conv.bias])
    grads_ref = torch.autograd.grad(expected.square().sum(), [x, A, gcn.conv.weight, gcn.conv.bias])
    for g, g_ref in zip(grads, grads_ref):
        assert rel_err(g, g_ref) < 1e-4


@pytest.mark.parametrize('bias', [True, False])
def test_graph_conv_orders_without_bias_and_degenerate_sizes(bias):
    torch.manual_seed(0)
    for K, V, T, c_in in [(1, 1, 1, 1), (2, 5, 1, 2), (3, 4, 3, 1)]:
        A = torch.rand(K, V, V, dtype=torch.float64, requires_grad=True)
        x = torch.randn(2, c_in, T, V, dtype=torch.float64, requires_grad=True)
        for channels_last in (True, False):
            gcn = ConvTemporalGraphical(c_in, 3, K, bias=bias).double()
            if channels_last:
                gcn = GraphConvChannelsLast(gcn)
            out, _ = gcn(x, A)
            expected = plain_graph_conv(x, gcn.conv, A)
            assert rel_err(out, expected) < 1e-12, (K, V, T, c_in, channels_last)
            params = [x, A, gcn.conv.weight] + ([gcn.conv.bias] if bias else [])
            grads = torch.autograd.grad(out.square().sum(), params)
            grads_ref = torch.autograd.grad(expected.square().sum(), params)
            assert all(rel_err(g, r) < 1e-10 for g, r in zip(grads, grads_ref))


def test_graph_aggregate_gradients_are_exact():
    a = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    x = torch.randn(5, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(GraphAggregate.apply, (a, x))
    assert torch.autograd.gradgradcheck(GraphAggregate.apply, (a, x))


def test_channels_last_graph_conv_under_bf16_autocast_is_close_and_has_gradients():
    torch.manual_seed(0)
    A = torch.tensor(Graph(layout='openpose', strategy='spatial').A, dtype=torch.float32)
    A = (A * (torch.rand_like(A) + 0.5)).requires_grad_(True)
    gcn = GraphConvChannelsLast(ConvTemporalGraphical(16, 32, A.size(0)))
    x = torch.randn(2, 16, 5, A.size(1), requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out, _ = gcn(x, A)
    assert out.dtype == torch.bfloat16 and out.is_contiguous(memory_format=torch.channels_last)
    expected = plain_graph_conv(x, gcn.conv, A)
    assert rel_err(out.float(), expected) < 3e-2
    grads = torch.autograd.grad(out.float().square().sum(), [x, A, gcn.conv.weight, gcn.conv.bias])
    grads_ref = torch.autograd.grad(expected.square().sum(), [x, A, gcn.conv.weight, gcn.conv.bias])
    for g, g_ref in zip(grads, grads_ref):
        assert g.dtype == torch.float32 and rel_err(g, g_ref) < 5e-2


def test_only_pointwise_graph_convs_are_switched():
    model = nn.Sequential(ConvTemporalGraphical(3, 64, 3), ConvTemporalGraphical(64, 64, 3),
                          ConvTemporalGraphical(3, 64, 3, t_kernel_size=3, t_padding=1))
    assert use_fast_graph_conv(model) == 2
    assert [type(m) for m in model] == [GraphConvChannelsLast, GraphConvChannelsLast, ConvTemporalGraphical]


def test_graph_conv_parameter_names_and_shapes_unchanged():
    gcn = ConvTemporalGraphical(64, 128, 3)
    assert {k: tuple(v.shape) for k, v in gcn.state_dict().items()} == {
        'conv.weight': (384, 64, 1, 1), 'conv.bias': (384,)}
    fast = GraphConvChannelsLast(gcn)
    assert {k: tuple(v.shape) for k, v in fast.state_dict().items()} == {
        'conv.weight': (384, 64, 1, 1), 'conv.bias': (384,)}
    assert fast.conv is gcn.conv


def test_fold_batchnorms_folds_every_conv_bn_pair_and_only_those():
    model = randomise_batchnorms(st_gcn.Model(3, 5, {'layout': 'rat', 'strategy': 'spatial'})).eval()
    copy = prepare_for_inference(model, fold_bn=False, channels_last=False)
    # 10 blocks: 10 tcn conv->BN pairs; 2 blocks change shape and have a residual conv->BN
    assert fold_batchnorms(copy) == 12
    assert sum(isinstance(m, nn.BatchNorm2d) for m in copy.modules()) == 10  # tcn[0], after the graph conv
    assert fold_graph_conv_batchnorms(copy) == 10
    assert sum(isinstance(m, nn.BatchNorm2d) for m in copy.modules()) == 0
    assert sum(isinstance(m, nn.Identity) for m in copy.modules()) == 22
    assert fold_graph_conv_batchnorms(copy) == 0  # nothing left to fold, nothing folded twice
    assert fold_batchnorms(nn.Sequential(nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1))) == 0


@pytest.mark.parametrize('fast', [False, True])
@pytest.mark.parametrize('se,expected', [(False, 10), (True, 0)])
def test_graph_conv_batchnorm_is_not_folded_across_squeeze_excitation(se, expected, fast):
    model = st_gcn_mb.Model(3, 5, {'layout': 'rat', 'strategy': 'spatial'}, se=se).eval()
    if fast:  # the channels-last counterpart of GraphConvSE is not folded either
        assert use_fast_graph_conv(model) == 10
    assert fold_graph_conv_batchnorms(model) == expected
    assert sum(type(block.tcn[0]) is nn.BatchNorm2d for block in model.st_gcn_networks) == 10 - expected


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('bias', [True, False])
def test_folded_output_batchnorm_matches_graph_conv_then_batchnorm(channels_last, bias):
    torch.manual_seed(0)
    A = torch.tensor(Graph(layout='openpose', strategy='spatial').A, dtype=torch.float32)
    A = A * (torch.rand_like(A) + 0.5)
    gcn = ConvTemporalGraphical(8, 16, A.size(0), bias=bias).eval()
    bn = randomise_batchnorms(nn.Sequential(nn.BatchNorm2d(16))).eval()[0]
    x = torch.randn(2, 8, 5, A.size(1))
    before = {k: v.clone() for k, v in gcn.state_dict().items()}
    with torch.no_grad():
        expected = bn(plain_graph_conv(x, gcn.conv, A))
        folded = FoldedGraphConv(GraphConvChannelsLast(gcn) if channels_last else gcn, bn)
        out, _ = folded(x, A)
    assert rel_err(out, expected) < 1e-5
    assert out.is_contiguous(memory_format=torch.channels_last) == channels_last
    # the folded tensors travel with a folded state_dict; the graph convolution keeps the published keys and values
    conv_keys = {'conv.weight', 'conv.bias'} if bias else {'conv.weight'}
    assert set(folded.state_dict()) == ({'weight', 'bias', 'shift'} if bias else {'weight', 'shift'})
    assert set(gcn.state_dict()) == conv_keys
    assert all(torch.equal(gcn.state_dict()[k], v) for k, v in before.items())


@pytest.mark.parametrize('layout,M', [('openpose', 2), ('rat', 1), ('ntu-rgb+d', 2)])
@pytest.mark.parametrize('N,micro_batch', [(5, 2), (3, None)])
def test_predict_matches_plain_model(layout, M, N, micro_batch):
    torch.manual_seed(0)
    V = Graph(layout=layout).num_node
    model = randomise_batchnorms(st_gcn.Model(3, 6, {'layout': layout, 'strategy': 'spatial'}))
    model.eval()
    x = torch.randn(N, 3, 12, V, M)
    with torch.no_grad():
        expected = model(x)
        expected_emb = model.pool_features(model.forward_features(x))
    prepared = prepare_for_inference(model)
    scores, emb = predict(prepared, x, micro_batch=micro_batch, features=True)
    assert scores.shape == (N, 6) and emb.shape == (N, 256)
    assert rel_err(scores, expected) < 1e-4
    assert rel_err(emb, expected_emb) < 1e-4
    assert rel_err(predict(prepared, x.numpy(), micro_batch=micro_batch), expected) < 1e-4


@pytest.mark.parametrize('options', [{}, {'se': False}, {'temporal': 'plain', 'adjacency_noise': None}])
def test_predict_matches_plain_multibranch_model(options):
    torch.manual_seed(0)
    model = randomise_batchnorms(st_gcn_mb.Model(3, 4, {'layout': 'rat', 'strategy': 'spatial'}, **options)).eval()
    x = torch.randn(3, 3, 16, 12, 1)
    with torch.no_grad():
        expected = model(x)
    assert rel_err(predict(prepare_for_inference(model), x, micro_batch=2), expected) < 1e-4


def test_predict_twostream_and_bf16_close():
    torch.manual_seed(0)
    model = randomise_batchnorms(st_gcn_twostream.Model(3, 4, {'layout': 'rat', 'strategy': 'spatial'})).eval()
    x = torch.randn(5, 3, 16, 12, 1)
    with torch.no_grad():
        expected = model(x)
    prepared = prepare_for_inference(model)
    assert rel_err(predict(prepared, x, micro_batch=2), expected) < 1e-4
    scores, emb = predict(prepared, x, micro_batch=2, features=True)
    assert emb.shape == (5, 512) and rel_err(scores, expected) < 1e-4
    bf16 = predict(prepared, x, micro_batch=2, amp=True)
    assert bf16.dtype == torch.float32 and rel_err(bf16, expected) < 5e-2


def test_prepare_leaves_the_original_model_untouched():
    model = randomise_batchnorms(st_gcn.Model(3, 5, {'layout': 'openpose', 'strategy': 'spatial'}))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    prepared = prepare_for_inference(model)
    after = model.state_dict()
    assert list(after) == list(before)  # the published-checkpoint names
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert model.training and not prepared.training
    assert all(p.requires_grad for p in model.parameters())
    assert not any(p.requires_grad for p in prepared.parameters())
    assert not any(isinstance(m, (GraphConvChannelsLast, FoldedGraphConv)) for m in model.modules())
    assert 'st_gcn_networks.1.tcn.3.running_mean' in after
    assert 'st_gcn_networks.1.tcn.3.running_mean' not in prepared.state_dict()


def test_predict_rejects_bad_input():
    model = prepare_for_inference(st_gcn.Model(3, 5, {'layout': 'rat', 'strategy': 'spatial'}))
    with pytest.raises(ValueError, match=r'must be \(N, C, T, V, M\), got shape \(2, 3, 16, 12\)'):
        predict(model, torch.randn(2, 3, 16, 12))
    with pytest.raises(ValueError, match='micro_batch must be >= 1, got 0'):
        predict(model, torch.randn(2, 3, 16, 12, 1), micro_batch=0)
    with pytest.raises(ValueError, match='has no forward_features'):
        predict(nn.Sequential(nn.Flatten(), nn.LazyLinear(2)).eval(), np.zeros((2, 3, 4, 12, 1)), features=True)


def test_pad_last_gives_the_same_scores_and_one_input_shape():
    torch.manual_seed(0)
    model = prepare_for_inference(randomise_batchnorms(st_gcn.Model(3, 4, {'layout': 'rat', 'strategy': 'spatial'})))
    x = torch.randn(7, 3, 8, 12, 1)
    shapes = []
    hook = model.register_forward_pre_hook(lambda module, args: shapes.append(tuple(args[0].shape)))
    padded, emb = predict(model, x, micro_batch=3, pad_last=True, features=False), None
    hook.remove()
    assert shapes == [(3, 3, 8, 12, 1)] * 3  # 3 + 3 + (1 padded to 3)
    assert padded.shape == (7, 4)
    assert rel_err(padded, predict(model, x, micro_batch=3)) < 1e-6
    scores, emb = predict(model, x, micro_batch=5, pad_last=True, features=True)
    assert emb.shape == (7, 256) and rel_err(scores, padded) < 1e-5


@pytest.mark.parametrize('features', [False, True])
def test_compiled_model_with_pad_last_compiles_once(features):
    torch._dynamo.reset()
    model = prepare_for_inference(st_gcn.Model(3, 4, {'layout': 'rat', 'strategy': 'spatial'}))
    x = torch.randn(11, 3, 8, 12, 1)
    expected = predict(model, x, micro_batch=4, features=features)
    graphs = []

    def backend(graph_module, example_inputs):  # counts compilations, runs the captured graph as it is
        graphs.append(tuple(example_inputs[0].shape) if example_inputs else None)
        return graph_module.forward

    compiled = compile_for_inference(model, backend=backend)
    out = predict(compiled, x, micro_batch=4, pad_last=True, features=features)  # passes of 4, 4, 3 padded to 4
    for got, want in zip(out if features else [out], expected if features else [expected]):
        assert rel_err(got, want) < 1e-5
    assert len(graphs) == 1  # the whole backbone, once, for both the scores and the embeddings path
    torch._dynamo.reset()


def test_prepare_for_inference_sets_the_graph_conv_formulation():
    model = accelerate(st_gcn.Model(3, 4, {'layout': 'rat', 'strategy': 'spatial'}), 'cpu')  # as training on CPU
    x = torch.randn(2, 3, 8, 12, 1)
    layouts = {}
    for setting in (True, False, None):
        prepared = prepare_for_inference(model, channels_last=setting)
        # None keeps the model's own formulation: channels-last after accelerate on CPU
        assert {m.channels_last for m in prepared.modules() if isinstance(m, FoldedGraphConv)} == {setting is not False}
        assert len([m for m in prepared.modules() if isinstance(m, FoldedGraphConv)]) == 10
        with torch.no_grad():
            layouts[setting] = prepared.forward_features(x).view(2, 256, 2, 12)  # (N*M, C, T', V)
    assert layouts[True].is_contiguous(memory_format=torch.channels_last)
    assert layouts[False].is_contiguous() and not layouts[False].is_contiguous(memory_format=torch.channels_last)
    assert layouts[None].is_contiguous(memory_format=torch.channels_last)  # the CPU default, set by accelerate
    assert rel_err(layouts[False], layouts[True]) < 1e-5
