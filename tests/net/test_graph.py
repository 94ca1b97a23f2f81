import numpy as np
import pytest

from net.utils.graph import LAYOUTS, STRATEGIES, Graph, layout_spec

SHARED_CONFIGS = '../shared/dlc-real'


@pytest.mark.parametrize('layout', list(LAYOUTS))
@pytest.mark.parametrize('strategy', STRATEGIES)
def test_adjacency_shapes_and_column_sums(layout, strategy):
    graph = Graph(layout, strategy)
    V = LAYOUTS[layout].num_node
    K = {'uniform': 1, 'distance': 2, 'spatial': 3}[strategy]
    assert graph.A.shape == (K, V, V)
    # every column of the summed partitions is a normalised neighbourhood: sums to one
    np.testing.assert_allclose(graph.A.sum(0).sum(0), np.ones(V), rtol=1e-6)


def test_spatial_partition_of_rat_centre():
    graph = Graph('rat', 'spatial')
    root, close, further = graph.A
    # A[k][j, i]: neighbour j feeds root i. As in the original, partition 1 takes neighbours j with
    # hop(j, centre) >= hop(i, centre) and partition 2 those nearer the centre (node 1, left_ear).
    assert close[0, 1] > 0 and further[0, 1] == 0  # nose (1 hop) feeding the centre (0 hops)
    assert further[1, 0] > 0 and close[1, 0] == 0  # the centre feeding the nose
    assert close[3, 0] > 0  # neck (2 hops) feeding the nose (1 hop)
    assert np.all(np.diag(root) > 0)


def test_unknown_layout_and_strategy_list_valid_ones():
    with pytest.raises(ValueError, match="unknown graph layout 'mouse'.*openpose, ntu-rgb\\+d, ntu_edge, rat"):
        Graph('mouse')
    with pytest.raises(ValueError, match="unknown graph strategy 'radial'.*uniform, distance, spatial"):
        Graph('rat', 'radial')


def test_custom_layout_mapping():
    graph = Graph({'num_node': 4, 'edges': [[0, 1], [1, 2], [2, 3]], 'center': 1}, 'spatial')
    assert graph.A.shape == (3, 4, 4)
    with pytest.raises(ValueError, match='edge \\(0, 7\\) is outside the 4 nodes'):
        Graph({'num_node': 4, 'edges': [[0, 7]], 'center': 1})
    with pytest.raises(ValueError, match='missing edges'):
        Graph({'num_node': 4})


def test_dlc_config_layout(tmp_path):
    config = tmp_path / 'config.yaml'
    config.write_text('bodyparts:\n- snout\n- neck\n- tail\nskeleton:\n- [snout, neck]\n- [neck, tail]\n')
    graph = Graph({'dlc_config': str(config), 'center': 'neck'}, 'spatial')
    assert graph.num_node == 3 and graph.center == 1 and graph.names == ('snout', 'neck', 'tail')
    assert (0, 1) in graph.edge and (1, 2) in graph.edge
    config.write_text('bodyparts: [snout, neck]\nskeleton:\n- [snout, tailbase]\n')
    with pytest.raises(ValueError, match="'tailbase', which is not a bodypart"):
        Graph({'dlc_config': str(config)})


@pytest.mark.skipif(not __import__('os').path.isdir(SHARED_CONFIGS), reason='../shared absent')
def test_real_dlc_configs():
    single = layout_spec({'dlc_config': f'{SHARED_CONFIGS}/1_config.yaml'})
    assert single.names == ('Hand', 'Finger1', 'Tongue', 'Joystick1', 'Joystick2')
    assert set(single.edges) == {(0, 1), (3, 4)}
    multi = layout_spec({'dlc_config': f'{SHARED_CONFIGS}/2_config.yaml'})  # bodyparts: MULTI!
    assert multi.names == ('bodypart1', 'bodypart2', 'bodypart3', 'corner1', 'corner2')
    assert len(multi.edges) == 3
    human = Graph({'dlc_config': f'{SHARED_CONFIGS}/superanimal_humanbody.yaml'}, 'spatial')
    assert human.num_node == 17 and len(human.spec.edges) == 19
