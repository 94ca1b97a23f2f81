"""The processors' options, declared once each, in groups; every subcommand takes the groups it uses.

Values come from the command line, else the YAML config file (``-c``), else the defaults here, as in the
original. ``main.py <command> -h`` lists the command's groups under their headings. A config file may hold options
of other commands (one file can serve ``recognition`` and ``demo``): those are left out with a note; a key that is
no option at all is an error naming the key and the closest option.
"""
from __future__ import annotations

import argparse
import os
from typing import Any, Callable, Sequence

import yaml

import torchlight
from torchlight import DictAction, str2bool

from feeder.model_input import DEFAULT_MAX_GAP


class ConfigError(ValueError):
    """A bad config file or option; main.py exits with code 2 for it."""


def _common(group: argparse._ArgumentGroup) -> None:
    group.add_argument('-w', '--work_dir', default='./work_dir/tmp', help='folder for logs, config, weights and results')
    group.add_argument('-c', '--config', default=None, help='YAML config file; command-line options override it')
    group.add_argument('--use_gpu', type=str2bool, default=None,
                       help='true/false; default: use CUDA when it is available (else Apple mps, untested)')
    group.add_argument('--device', type=int, default=[0], nargs='+',
                       help='CUDA device indices; several mean DataParallel over them (under torchrun each '
                            'process uses GPU LOCAL_RANK instead)')
    group.add_argument('--print_log', type=str2bool, default=True, help='print the log to the console (true/false)')
    group.add_argument('--save_log', type=str2bool, default=True, help='write work_dir/log.txt (true/false)')
    group.add_argument('--seed', type=int, default=0,
                       help='seed of python, numpy, torch and the data loaders (an integer; same seed, same CPU run)')


def _model(group: argparse._ArgumentGroup) -> None:
    group.add_argument('--model', default=None,
                       help='model class as a dotted path, e.g. net.st_gcn.Model (default: the one --weights '
                            'names, for model files written by training)')
    group.add_argument('--model_args', action=DictAction, default=dict(),
                       help="model arguments as key=value (Python literals), merged into the config's, e.g. "
                            "num_class=5 \"graph_args={'layout': 'rat', 'strategy': 'spatial'}\"")
    group.add_argument('--weights', default=None,
                       help='weights to start from: a model file written by training (best_model.pt, '
                            'epoch<N>_model.pt, which also say how to prepare the input) or a plain state dict '
                            '(the published models)')
    group.add_argument('--ignore_weights', type=str, default=[], nargs='+',
                       help='name prefixes of weights not to load (e.g. fcn to fine-tune on new classes)')


def _input(group: argparse._ArgumentGroup) -> None:
    group.add_argument('--test_feeder_args', action=DictAction, default=dict(),
                       help='test feeder arguments as key=value, e.g. data_path=data/x/val_data.npy; its '
                            'transform (normalize, center_joint, heading_joints, channels, ...) is the input '
                            'preparation the model expects (model files written by training carry it)')


def _data(group: argparse._ArgumentGroup) -> None:
    group.add_argument('--feeder', default='feeder.feeder.Feeder', help='dataset class as a dotted path')
    group.add_argument('--train_feeder_args', action=DictAction, default=dict(),
                       help='training feeder arguments as key=value, merged into the config\'s')
    group.add_argument('--num_worker', type=int, default=min(4, os.cpu_count() or 1),
                       help='data-loader worker processes (0 = load in the main process); default: '
                            'min(4, CPU cores)')
    group.add_argument('--debug', action='store_true', help='use only the first 100 samples of each split')


def _training(group: argparse._ArgumentGroup) -> None:
    group.add_argument('--phase', default='train', choices=['train', 'test'], help='train or test')
    group.add_argument('--num_epoch', type=int, default=80, help='number of training epochs')
    group.add_argument('--start_epoch', type=int, default=0, help='epoch to start training from (0-based)')
    group.add_argument('--resume', nargs='?', const='', default=None, metavar='PATH',
                       help='continue an interrupted training run from PATH (default: work_dir/checkpoint.pt): '
                            'model, optimizer, schedule, metrics and random states')
    group.add_argument('--batch_size', type=int, default=256, help='training batch size (clips)')
    group.add_argument('--optimizer', default='SGD', choices=['SGD', 'Adam'], help='SGD or Adam')
    group.add_argument('--base_lr', type=float, default=0.01, help='initial learning rate')
    group.add_argument('--step', type=int, default=[], nargs='+',
                       help='epochs at which the learning rate is multiplied by 0.1 (SGD, --lr_schedule step)')
    group.add_argument('--lr_schedule', default='step', choices=['step', 'cosine'],
                       help='step (the original: --step decays, SGD only) or cosine (from base_lr towards 0 over '
                            '--num_epoch, either optimiser)')
    group.add_argument('--nesterov', type=str2bool, default=True, help='Nesterov momentum for SGD (true/false)')
    group.add_argument('--weight_decay', type=float, default=0.0001, help='weight decay (L2) of the optimiser')
    group.add_argument('--class_weight', nargs='+', default=['none'], metavar='W',
                       help='weights of the classes in the loss: none, balanced (inversely proportional to the '
                            'training clips of each class) or one number per class')
    group.add_argument('--smooth_loss', type=float, default=0.15,
                       help='per-frame models: weight of the smoothing term of the loss (MS-TCN\'s truncated MSE '
                            'between the log-probabilities of consecutive frames; 0: off)')
    group.add_argument('--balanced_sampler', type=str2bool, default=False,
                       help='draw training clips with probabilities that give every class the same expected '
                            'number per epoch (true/false)')
    group.add_argument('--log_interval', type=int, default=100, help='log every this many iterations')
    group.add_argument('--save_interval', type=int, default=10,
                       help='save epoch<N>_model.pt and checkpoint.pt every this many epochs (and at the end)')
    group.add_argument('--eval_interval', type=int, default=5,
                       help='evaluate on the test split every this many epochs (and at the end)')
    group.add_argument('--tensorboard', type=str2bool, default=False,
                       help='also write TensorBoard logs to work_dir/tensorboard (true/false; needs '
                            '`pip install tensorboard`)')


def _evaluation(group: argparse._ArgumentGroup) -> None:
    group.add_argument('--test_batch_size', type=int, default=256, help='test batch size (clips or windows)')
    group.add_argument('--amp', type=str2bool, default=False,
                       help='mixed precision (true/false): bfloat16 on CUDA where supported, else float16 '
                            'with a GradScaler; bfloat16 on CPUs that support it')
    group.add_argument('--compile', default='off', choices=['off', 'eval', 'all'],
                       help='torch.compile: off, eval (test, extract, demo and evaluation during training) or '
                            'all (the training forward pass too); docs/performance.md says what it buys')
    group.add_argument('--label_names', default=None,
                       help='file with one class name per line, in label order (e.g. classes.txt of '
                            'csv2json); default: the names the model file carries')


def _testing(group: argparse._ArgumentGroup) -> None:
    group.add_argument('--show_topk', type=int, default=[1, 5], nargs='+', help='which Top K accuracy to show')
    group.add_argument('--save_result', type=str2bool, default=False,
                       help='write work_dir/test_result.pkl (sample name -> class scores) (true/false)')


def _extract(group: argparse._ArgumentGroup) -> None:
    group.add_argument('--data_path', nargs='+', default=[],
                       help='data file(s) to extract instead of the config\'s test split (with --label_path)')
    group.add_argument('--label_path', nargs='+', default=[], help='label file(s), one per --data_path')
    group.add_argument('--split', nargs='+', default=['test'], choices=['train', 'test', 'val'],
                       help='config feeder splits to extract: test (= val) and/or train; augmentation is off')


def _demo(group: argparse._ArgumentGroup) -> None:
    group.add_argument('--input', help='pose file (DLC .csv/.h5, SLEAP .h5/.slp, NWB, LightningPose .csv) or a folder '
                                       'of them')
    group.add_argument('--video', help='the recording\'s video: writes annotated.mp4 (one --input file)')
    group.add_argument('--nwb', type=str2bool, default=False,
                       help='also write the bouts as an NWB TimeIntervals table, ethogram.nwb (true/false; for an NWB '
                            'pose file, a copy of it with the table; needs pip install pynwb ndx-pose)')
    group.add_argument('--skip_done', type=str2bool, default=False,
                       help='skip the recordings whose outputs in work_dir are complete (true/false): re-run an '
                            'interrupted labelling of a folder')
    group.add_argument('--window', default=None,
                       help='frames (or seconds: 2s) per classified window (default: the training clip length, '
                            'else 64)')
    group.add_argument('--stride', default=None,
                       help='frames (or seconds) between window starts (default 8; half a window for a per-frame '
                            'model)')
    group.add_argument('--fps', type=float, default=None,
                       help='frame rate of the recordings (default: their annotations\' or video\'s): adds '
                            'times in seconds; a recording at another rate than the model\'s is resampled')
    group.add_argument('--min_bout', default='1',
                       help='frames (or seconds): with --smooth none, bouts shorter than this merge into their '
                            'longer neighbour (default 1 frame: none); with median, the window; with hmm, the '
                            'expected bout length')
    group.add_argument('--smooth', default='none', choices=['none', 'median', 'hmm'],
                       help='smoothing of the per-frame probabilities before the labels are read off: none, '
                            'median (running median over --min_bout frames) or hmm (Viterbi decoding with '
                            'sticky transitions: expected bout length --min_bout, or the training bouts\' mean '
                            'lengths the model file carries)')
    group.add_argument('--focal', default='first', choices=['first', 'each', 'average'],
                       help='for a model trained on groups of individuals: first (one track per group, the tracks '
                            'in file order, the first in the focal slot), each (one track per individual as the '
                            'focal, the others as partners: for directed behaviours) or average (one track per '
                            'group, probabilities averaged over each individual as the focal: for symmetric '
                            'behaviours). A file with more individuals than the model takes: every group of them')
    group.add_argument('--features', default=None,
                       help='features.pkl of main.py extract on the training clips: adds an anomaly score per '
                            'frame (mean distance to the 5 nearest training embeddings, standardised)')
    group.add_argument('--annotations', nargs='+', default=None, metavar='PATH',
                       help='human labels of the recordings (files or folders, any format csv2json reads): '
                            'scores the ethogram against them (evaluation.json, confusion matrix, timeline)')
    group.add_argument('--stream', default=None, help='Caltech annotator files: the stream to score against')
    group.add_argument('--rater', default=None, help='bouts with a rater column: whose bouts are the truth')
    group.add_argument('--background', default=None,
                       help='with --annotations: the class of the frames outside every bout (default: the '
                            'model\'s, when it was trained with csv2json --background)')
    group.add_argument('--bodyparts', nargs='+', default=None,
                       help='bodyparts in graph node order (default: the model\'s, as csv2json had them)')
    group.add_argument('--dlc_config', default=None, help='DLC config.yaml giving the bodypart order (as csv2json)')
    group.add_argument('--pcutoff', type=float, default=None,
                       help='likelihood below which a point is masked (default: the model\'s, else 0.6)')
    group.add_argument('--max_gap', type=int, default=None,
                       help=f'fill gaps of masked points up to this many frames (default: the model\'s, else '
                            f'{DEFAULT_MAX_GAP}; 0: off)')
    group.add_argument('--width', type=float, default=None, help='frame width in pixels (with --height)')
    group.add_argument('--height', type=float, default=None, help='frame height in pixels (with --width)')
    group.add_argument('--single', choices=['attach', 'drop'], default=None,
                       help='maDLC "single" block: attach to every individual or drop (default: the model\'s)')


GROUPS: dict[str, tuple[str, Callable[[argparse._ArgumentGroup], None]]] = {
    'common': ('common options', _common),
    'model': ('model and weights', _model),
    'input': ('input preparation', _input),
    'data': ('data', _data),
    'training': ('training', _training),
    'evaluation': ('evaluation', _evaluation),
    'testing': ('test reports', _testing),
    'extract': ('extract', _extract),
    'demo': ('labelling recordings', _demo),
}


def build_parser(groups: Sequence[str], description: str = '', add_help: bool = False,
                 prog: str | None = None) -> argparse.ArgumentParser:
    """A parser of the options of ``groups``, each under its heading."""
    parser = argparse.ArgumentParser(add_help=add_help, description=description, prog=prog)
    for name in groups:
        title, add = GROUPS[name]
        add(parser.add_argument_group(title))
    return parser


def all_option_names() -> set[str]:
    """Every option of every group (what some command accepts in a config file)."""
    return set(vars(build_parser(list(GROUPS)).parse_args([])))


def read_config(path: str, valid: Sequence[str]) -> dict[str, Any]:
    """Read a YAML config with ``yaml.safe_load``: the options in ``valid``; options of other commands are left
    out (logged by the caller from :func:`other_commands_keys`); any other key is a ConfigError naming it, the file
    and the closest option."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: config file not found')
    with open(path, encoding='utf-8') as handle:
        try:
            config = yaml.safe_load(handle) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, 'problem_mark', None)
            where = f' at line {mark.line + 1}' if mark else ''
            raise ConfigError(f'{path}: not valid YAML{where}') from None
    if not isinstance(config, dict):
        raise ConfigError(f'{path}: expected a mapping of option: value, found {type(config).__name__}')
    known = all_option_names()
    for key in config:
        if key not in valid and key not in known:
            raise ConfigError(f'{path}: unknown option {key!r}{torchlight.closest(str(key), valid)}')
    return {key: value for key, value in config.items() if key in valid}


def other_commands_keys(path: str, valid: Sequence[str]) -> list[str]:
    """The keys of a config file that belong to other commands (left out by :func:`read_config`)."""
    with open(path, encoding='utf-8') as handle:
        config = yaml.safe_load(handle) or {}
    return sorted(key for key in config if key not in valid)
