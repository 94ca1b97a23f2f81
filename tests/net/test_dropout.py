"""net.utils.dropout.Dropout: nn.Dropout's behaviour with a faster CPU mask."""
import pytest
import torch

from net.utils.dropout import Dropout


@pytest.mark.parametrize('p', [0.1, 0.5, 0.9])
def test_keeps_the_right_fraction_and_rescales(p):
    torch.manual_seed(0)
    x = torch.ones(200, 1000)
    out = Dropout(p).train()(x)
    kept = out != 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.005  # 200,000 draws: sd < 0.0012
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / (1 - p)))
    assert torch.equal(x, torch.ones(200, 1000))  # not in place unless asked


def test_inplace_gradient_and_memory_format_as_nn_dropout():
    torch.manual_seed(1)
    leaf = torch.randn(4, 8, 6, 5, requires_grad=True)
    x = (leaf * 1).contiguous(memory_format=torch.channels_last)
    out = Dropout(0.5, inplace=True).train()(x)
    assert out is x and out.is_contiguous(memory_format=torch.channels_last)
    out.sum().backward()
    # d out / d x is the mask: 2 where kept, 0 where dropped
    assert set(leaf.grad.unique().tolist()) == {0.0, 2.0}
    assert torch.equal(leaf.grad == 0, out.detach() == 0)


def test_eval_p0_p1_and_bf16():
    x = torch.randn(3, 7)
    assert torch.equal(Dropout(0.5).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))
    torch.manual_seed(2)
    half = Dropout(0.25).train()(torch.ones(100, 1000, dtype=torch.bfloat16))
    assert half.dtype == torch.bfloat16
    assert abs((half != 0).float().mean().item() - 0.75) < 0.01
    assert Dropout(0.5).state_dict() == {}


def test_seeded_masks_repeat():
    x = torch.ones(50, 50)
    torch.manual_seed(3)
    first = Dropout(0.5).train()(x)
    torch.manual_seed(3)
    assert torch.equal(first, Dropout(0.5).train()(x))
