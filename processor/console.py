"""The console commands of the installed package (``pip install .``): ``st-gcn`` and one ``st-gcn-<tool>`` per tool.

Each runs what the checkout's scripts run: ``st-gcn recognition ...`` is ``python main.py recognition ...`` and
``st-gcn-csv2json ...`` is ``python tools/csv2json.py ...``, with the same options, messages and exit codes.
Nothing here imports torch before :func:`prefer_mps_fallback` has run.
"""
from __future__ import annotations

import importlib
import os
import platform
import sys
from typing import Callable

# console command -> the tool module whose main() it runs
TOOLS = {
    'csv2json': 'tools.csv2json',
    'gen-train-dataset': 'tools.gen_trainDataset',
    'kinetics-gendata': 'tools.kinetics_gendata',
    'ntu-gendata': 'tools.ntu_gendata',
    'evaluate-ethogram': 'tools.evaluate_ethogram',
    'make-sample-data': 'tools.make_sample_data',
    'dbscan': 'tools.dbscan',
    'visualize': 'tools.visualize',
    'check-weights': 'tools.check_weights',
}


def prefer_mps_fallback() -> None:
    """On macOS, set ``PYTORCH_ENABLE_MPS_FALLBACK=1`` unless the user set it: ops that Apple's ``mps`` device lacks
    then run on the CPU instead of failing. PyTorch reads the variable when it is imported, so this must run first."""
    if platform.system() == 'Darwin' and 'torch' not in sys.modules:
        os.environ.setdefault('PYTORCH_ENABLE_MPS_FALLBACK', '1')


def st_gcn() -> int:
    """``st-gcn <processor> [options]``: main.py's command line."""
    prefer_mps_fallback()
    import main
    return main.main(prog='st-gcn')


def _tool(module_name: str, command: str) -> Callable[[], None]:
    def run() -> None:
        prefer_mps_fallback()
        from torchlight import run_cli
        module = importlib.import_module(module_name)
        sys.argv[0] = command
        run_cli(module.main, prog=command)
    run.__name__ = run.__qualname__ = command.replace('-', '_')
    run.__doc__ = f'``{command}``: tools/{module_name.split(".")[-1]}.py\'s command line.'
    return run


# one module-level function per tool, for the entry points of pyproject.toml
csv2json = _tool('tools.csv2json', 'st-gcn-csv2json')
gen_train_dataset = _tool('tools.gen_trainDataset', 'st-gcn-gen-train-dataset')
kinetics_gendata = _tool('tools.kinetics_gendata', 'st-gcn-kinetics-gendata')
ntu_gendata = _tool('tools.ntu_gendata', 'st-gcn-ntu-gendata')
evaluate_ethogram = _tool('tools.evaluate_ethogram', 'st-gcn-evaluate-ethogram')
make_sample_data = _tool('tools.make_sample_data', 'st-gcn-make-sample-data')
dbscan = _tool('tools.dbscan', 'st-gcn-dbscan')
visualize = _tool('tools.visualize', 'st-gcn-visualize')
check_weights = _tool('tools.check_weights', 'st-gcn-check-weights')
