"""Check that a weights file loads into the published ST-GCN model it is named after (used by get_models.sh)."""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from torchlight import run_cli  # noqa: E402

# file name -> (layout, number of classes) of the published models
PUBLISHED = {
    'st_gcn.kinetics.pt': ('openpose', 400),
    'st_gcn.ntu-xsub.pt': ('ntu-rgb+d', 60),
    'st_gcn.ntu-xview.pt': ('ntu-rgb+d', 60),
}


def check(path: str, model_name: str) -> None:
    """Raise ValueError/FileNotFoundError unless ``path`` loads strictly into the named published model."""
    from net.st_gcn import Model
    from torchlight.io import load_state_dict_strict
    if model_name not in PUBLISHED:
        raise ValueError(f'unknown published model {model_name!r}; known: {", ".join(PUBLISHED)}')
    layout, num_class = PUBLISHED[model_name]
    model = Model(3, num_class, {'layout': layout, 'strategy': 'spatial'}, edge_importance_weighting=True)
    load_state_dict_strict(model, path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('path', help='weights file to check')
    parser.add_argument('--model', required=True, choices=sorted(PUBLISHED), help='published model it should be')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check(args.path, args.model)
    print(f'{args.path}: ok ({args.model})')
    return 0


if __name__ == '__main__':
    run_cli(main)
