"""A small Python API for notebooks: the steps of the command line as functions, each running the code the command
line runs (no second implementation), with Python values in and out. docs/python-api.md has a runnable example.

    from processor import api
    rec = api.read_pose('session.csv')                     # a pose file      (feeder.dlc_io, feeder.pose_formats)
    clips = api.convert('csv_data/', 'json/', clip_len=64)  # JSON clips       (tools/csv2json.py)
    data = api.make_dataset('json/', 'dataset/', 64)       # train/val arrays (tools/gen_trainDataset.py,
                                                           #                   tools/kinetics_gendata.py)
    weights = api.train(config, 'work/train')              # a model file     (main.py recognition)
    model = api.load_model(weights)                        # model + input spec (processor.checkpoint)
    frames = api.label(model, 'session.csv')               # pandas DataFrame (main.py demo)
    scores = api.evaluate(frames, 'session_labels.csv')    # metrics dict     (feeder.annotations,
                                                           #                   processor.evaluation)

Options are the command line's, by the same names without the dashes (``clip_len=64`` is ``--clip_len 64``); a
list gives several values, True a flag. Errors are the command line's too: a ValueError or FileNotFoundError whose
message names the bad value. The repository's root must be importable (``pip install -e .``, or the checkout on
``sys.path``). On macOS, importing this module before torch sets ``PYTORCH_ENABLE_MPS_FALLBACK=1`` (unless set).
"""
from __future__ import annotations

import contextlib
import dataclasses
import glob
import logging
import os
import re
import tempfile
from typing import Any, Mapping, Sequence

from .console import prefer_mps_fallback

prefer_mps_fallback()  # must come before torch is first imported; a no-op elsewhere than macOS

logger = logging.getLogger(__name__)


def _paths(value: Any) -> list[str]:
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    return [os.fspath(v) for v in value]


def _options(options: Mapping[str, Any]) -> list[str]:
    """``{'clip_len': 64, 'classes': ['a', 'b'], 'force': True}`` -> ``['--clip_len', '64', '--classes', 'a', 'b',
    '--force']``: keyword arguments as the command line's options (None and False are left out)."""
    argv: list[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = '--' + key
        if value is True:
            argv.append(flag)
        elif isinstance(value, Mapping):
            argv += [flag, *(f'{k}={v!r}' for k, v in value.items())]
        elif isinstance(value, (list, tuple)):
            argv += [flag, *(os.fspath(v) if isinstance(v, os.PathLike) else str(v) for v in value)]
        else:
            argv += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return argv


@contextlib.contextmanager
def _tool_logging():
    """The tools set up logging for their command line (``logging.basicConfig``); in a notebook that handler would
    stay and print every later message twice: the handlers a tool adds are removed when it returns."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)


def _processor(name: str, argv: Sequence[str]):
    """The command ``main.py <name>``'s processor, set up from ``argv`` (what main.py does before ``start()``)."""
    import main
    from torchlight import import_class
    processor_class = import_class(main.PROCESSORS[name])
    processor_class.command_name = name
    return processor_class(list(argv))


# ------------------------------------------------------------------ data
def read_pose(path: str | os.PathLike, bodyparts: Sequence[str] | None = None, single: str = 'attach',
              rename: Mapping[str, str] | None = None):
    """A pose file (DLC CSV/.h5, SLEAP .h5/.slp, NWB, LightningPose CSV) as a :class:`feeder.dlc_io.PoseRecording`:
    ``xy`` (T, I, V, 2) pixels (NaN where missing), ``score`` (T, I, V), ``bodyparts``, ``individuals``.
    ``bodyparts`` selects and orders them; ``rename`` maps the file's names to others first."""
    from feeder import dlc_io
    return dlc_io.select_bodyparts(dlc_io.read_pose_file(path, single=single), bodyparts, rename)


def convert(inputs: str | os.PathLike | Sequence[str | os.PathLike] | None, output: str | os.PathLike,
            label: str | None = None, annotations: str | os.PathLike | Sequence | None = None,
            **options: Any) -> list[str]:
    """Pose files -> JSON clips, by ``tools/csv2json.py``; returns the JSON files in ``output``.

    ``inputs``: a folder of class subfolders, or (with ``label`` or ``annotations``) pose files and folders.
    ``options``: csv2json's (``width``, ``height``, ``clip_len``, ``stride``, ``fps``, ``background``, ...;
    ``python tools/csv2json.py -h``). A ValueError when a file was refused (csv2json's summary, printed, says why).
    """
    from tools import csv2json
    argv = (['--input', *_paths(inputs)] if inputs else []) + ['--output', os.fspath(output)]
    argv += ['--label', label] if label is not None else []
    argv += ['--annotations', *_paths(annotations)] if annotations is not None else []
    options.setdefault('log_level', 'WARNING')
    with _tool_logging():
        code = csv2json.main(argv + _options(options))
    if code != 0:
        raise ValueError(f'convert: csv2json refused some pose files (its summary above says which and why); the '
                         f'others are in {os.fspath(output)}')
    return sorted(glob.glob(os.path.join(glob.escape(os.fspath(output)), '*.json')))


def make_dataset(clips: str | os.PathLike, output: str | os.PathLike, max_frame: int, num_person: int = 1,
                 train_ratio: float = 0.8, seed: int = 0, val_recordings: Sequence[str] | None = None,
                 force: bool = False, num_workers: int | None = None) -> dict[str, str]:
    """JSON clips -> the train/val arrays training reads, by ``tools/gen_trainDataset.py`` (split grouped by
    recording) and ``tools/kinetics_gendata.py`` (``max_frame`` frames T, ``num_person`` individuals M per clip).
    ``force`` replaces an earlier split in ``output``. Returns the paths: ``train_data``, ``train_label``,
    ``val_data``, ``val_label`` (absent when a split is empty) and ``classes``."""
    from tools import gen_trainDataset, kinetics_gendata
    clips, output = os.fspath(clips), os.fspath(output)
    with _tool_logging():
        gen_trainDataset.main(['--input', clips, '--output', output] + _options(
            {'train_ratio': train_ratio, 'seed': seed, 'val_recordings': val_recordings, 'force': force,
             'log_level': 'WARNING'}))
        kinetics_gendata.main(['--data_path', output, '--out_folder', output] + _options(
            {'max_frame': max_frame, 'num_person_out': num_person, 'num_workers': num_workers}))
    paths = {'classes': os.path.join(output, 'classes.txt')}
    for split in ('train', 'val'):
        data, label = os.path.join(output, f'{split}_data.npy'), os.path.join(output, f'{split}_label.pkl')
        if os.path.isfile(data):
            paths[f'{split}_data'], paths[f'{split}_label'] = data, label
    return paths


# ------------------------------------------------------------------ training
def train(config: Mapping[str, Any] | str | os.PathLike, work_dir: str | os.PathLike, **overrides: Any) -> str:
    """Train as ``main.py recognition -c CONFIG -w WORK_DIR``; return the model file to use: ``best_model.pt``
    (best validation top-1) when there is one, else the last ``epoch<N>_model.pt``.

    ``config``: a YAML file, or its content as a dict (the keys of ``config/st_gcn/rat/train.yaml``);
    ``overrides``: keys that replace the config's (``num_epoch=1``). Paths in the config are relative to the
    current folder, as on the command line.
    """
    import yaml
    work_dir = os.fspath(work_dir)
    if isinstance(config, (str, os.PathLike)):
        with open(config, encoding='utf-8') as handle:
            values = yaml.safe_load(handle) or {}
        if not isinstance(values, dict):
            raise ValueError(f'{os.fspath(config)}: not a YAML mapping of options')
    else:
        values = dict(config)
    values.update(overrides)
    values['work_dir'] = work_dir
    os.makedirs(work_dir, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix='.api-config-', suffix='.yaml', dir=work_dir)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(values, handle, sort_keys=False)
        _processor('recognition', ['-c', path]).start()
    finally:
        os.remove(path)
    return trained_model_file(work_dir)


def trained_model_file(work_dir: str | os.PathLike) -> str:
    """``work_dir/best_model.pt`` when training wrote one, else its last ``epoch<N>_model.pt``."""
    work_dir = os.fspath(work_dir)
    best = os.path.join(work_dir, 'best_model.pt')
    if os.path.isfile(best):
        return best
    epochs = [(int(m.group(1)), f) for f in os.listdir(work_dir) if (m := re.fullmatch(r'epoch(\d+)_model\.pt', f))]
    if not epochs:
        raise FileNotFoundError(f'{work_dir}: no best_model.pt or epoch<N>_model.pt (was this a training run?)')
    return os.path.join(work_dir, max(epochs)[1])


@dataclasses.dataclass
class TrainedModel:
    """A model file as loaded: ``model`` (the network, on the CPU, in eval mode), ``spec`` (the
    :class:`feeder.model_input.InputSpec` it was trained with: bodyparts, frame size, fps, clip length, transform),
    ``class_names`` and the file's absolute ``path``."""
    path: str
    model: Any
    spec: Any
    class_names: list[str]
    model_name: str
    model_args: dict[str, Any]


def load_model(path: str | os.PathLike) -> TrainedModel:
    """Load a model file written by training (``best_model.pt``, ``epoch<N>_model.pt`` or ``checkpoint.pt``), with
    the weights loaded strictly. A plain state dict (the published models) has no input spec: use ``main.py demo``
    with a config for those."""
    from processor.checkpoint import read_model_file
    from torchlight import import_class
    from torchlight.io import load_state_dict_checked
    path = os.path.abspath(os.fspath(path))
    model_file = read_model_file(path)
    if not model_file.has_spec:
        raise ValueError(f'{path}: a plain state dict (no model, arguments or input spec in it); load_model takes '
                         'the model files training writes (best_model.pt, epoch<N>_model.pt)')
    model = import_class(model_file.model)(**model_file.model_args)
    load_state_dict_checked(model, model_file.state_dict, path)
    model.eval()
    spec = model_file.input
    num_class = getattr(getattr(model, 'origin_stream', model), 'num_class', 0)
    names = list(spec.class_names) if spec is not None and spec.class_names else [str(k) for k in range(num_class)]
    return TrainedModel(path, model, spec, names, model_file.model, dict(model_file.model_args))


# ------------------------------------------------------------------ labelling and scoring
def label(model: TrainedModel | str | os.PathLike, pose_path: str | os.PathLike,
          work_dir: str | os.PathLike | None = None, **options: Any):
    """Label every frame of one recording as ``main.py demo --weights MODEL --input POSE_PATH`` does; return a pandas
    DataFrame of ethogram.csv's columns: ``frame``, ``time_s`` (when the frame rate is known), ``individual``,
    ``label``, ``confidence``, ``p_<class>`` (full precision) and ``anomaly_score`` (with ``features=``).

    ``options``: demo's (``fps``, ``window``, ``stride``, ``smooth``, ``min_bout``, ``focal``, ``features``,
    ``video``, ``use_gpu``, ...; ``python main.py demo -h``). ``work_dir``: keep demo's files there
    (``<recording>/ethogram.csv``, ``bouts.csv``, ``ethogram.png``); default a temporary folder, removed.
    ``DataFrame.attrs`` holds ``recording``, ``source``, ``class_names``, ``fps``, ``model`` and, with
    ``work_dir``, ``out_dir``.
    """
    import numpy as np
    import pandas as pd
    weights = model.path if isinstance(model, TrainedModel) else os.fspath(model)
    pose_path = os.fspath(pose_path)
    if os.path.isdir(pose_path):
        raise ValueError(f'{pose_path}: label takes one pose file (call it once per file of the folder)')
    with tempfile.TemporaryDirectory(prefix='st-gcn-label-') as scratch:
        out = os.fspath(work_dir) if work_dir is not None else scratch
        argv = ['--weights', weights, '--input', pose_path, '--work_dir', out]
        if work_dir is None:
            options.setdefault('save_log', 'false')
        demo = _processor('demo', argv + _options(options))
        fps = demo.arg.fps
        if fps is None and demo.arg.video:
            from feeder import dlc_io
            fps = dlc_io.video_info(demo.arg.video).fps or None
        class_names = demo.class_names()
        result = demo.label_recording(pose_path, class_names, demo.anomaly_scorer(), fps)
    num_frames, out_fps = result['num_frames'], result['fps']
    names = class_names[:result['tracks'][0]['probs'].shape[1]]
    frame = np.arange(num_frames)
    parts = []
    for track in result['tracks']:
        probs, labels = track['probs'], track['labels']                    # (T, K), (T,)
        columns: dict[str, Any] = {'frame': frame}
        if out_fps:
            columns['time_s'] = frame / out_fps
        columns.update(individual=track['individual'], label=np.asarray(names, dtype=object)[labels],
                       confidence=probs[frame, labels])
        columns.update({f'p_{name}': probs[:, k] for k, name in enumerate(names)})
        if track.get('anomaly') is not None:
            columns['anomaly_score'] = track['anomaly']
        parts.append(pd.DataFrame(columns))
    table = pd.concat(parts, ignore_index=True)
    table.attrs.update(recording=result['name'], source=pose_path, class_names=list(names), fps=out_fps,
                       model=weights)
    if work_dir is not None:
        table.attrs['out_dir'] = result['out_dir']
    return table


def evaluate(frames, annotations: str | os.PathLike, individual: str | None = None, fps: float | None = None,
             background: str | None = None, iou: float = 0.5, stream: str | None = None,
             rater: str | None = None) -> dict[str, Any]:
    """Score a :func:`label` DataFrame against a person's labels of the same recording (any format
    ``feeder.annotations`` reads: BORIS, Caltech, per-frame, bouts in seconds or frames, SimBA), as ``main.py demo
    --annotations`` does: frame metrics (macro F1, accuracy, per class, confusion) and bout metrics (bout F1 at
    temporal IoU ``iou``). Returns :func:`processor.evaluation.evaluate`'s dict.

    ``individual``: which track, when the DataFrame has several. ``fps``: for labels in seconds (default the
    DataFrame's). ``background``: the class of the frames outside every bout (default: not scored). A file that
    describes several recordings is matched to the DataFrame's recording by name.
    """
    import numpy as np
    from feeder import annotations as annotation_io
    from processor import evaluation
    names = [c[len('p_'):] for c in frames.columns if c.startswith('p_')]
    if not names or not {'frame', 'individual', 'label'} <= set(frames.columns):
        raise ValueError('evaluate takes the DataFrame of label() (frame, individual, label, p_<class> columns)')
    tracks = list(dict.fromkeys(frames['individual']))
    if individual is None:
        if len(tracks) > 1:
            raise ValueError(f'the DataFrame has {len(tracks)} individuals ({", ".join(map(str, tracks))}); give '
                             'individual=')
        individual = tracks[0]
    elif individual not in tracks:
        raise ValueError(f'individual {individual!r} is not in the DataFrame ({", ".join(map(str, tracks))})')
    if background is not None and background not in names:
        raise ValueError(f'background {background!r} is not one of the classes ({", ".join(names)})')
    track = frames[frames['individual'] == individual].sort_values('frame')
    fps = fps or frames.attrs.get('fps')
    read = annotation_io.read_annotations(annotations, fps=fps, stream=stream, rater=rater)
    annotation = read[0]
    if len(read) > 1:
        source = frames.attrs.get('source') or f'{frames.attrs.get("recording", "")}.csv'
        pairs, problems = annotation_io.match_annotations([source], read)
        if not pairs:
            raise ValueError(f'{os.fspath(annotations)}: describes {len(read)} recordings and none matches '
                             f'{source}: {"; ".join(problems)}')
        annotation = pairs[0][1]
    true, report = annotation_io.frame_labels(annotation, len(track), names, background)
    notes = annotation_io.describe_report(report)
    if notes:
        logger.warning('%s (labels %s): %s', frames.attrs.get('recording', 'recording'), annotation.source, notes)
    index = {name: k for k, name in enumerate(names)}
    pred = np.array([index[str(v)] for v in track['label']], dtype=np.int64)
    return evaluation.evaluate(true, pred, names, iou)
