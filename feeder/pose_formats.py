"""Pose files of other tools, read through the libraries made for them, and ethograms written into NWB.

:func:`feeder.dlc_io.read_pose_file` hands a file here when its content is one of these (never by extension):

    * SLEAP project ``.slp`` (HDF5 with SLEAP's ``metadata`` group and ``frames``/``instances`` tables), read with
      ``sleap-io`` (``pip install "st-gcn[sleap]"``, or ``pip install sleap-io``): :func:`read_slp`.
    * NWB ``.nwb`` (HDF5 whose root carries an ``nwb_version`` attribute) with ndx-pose ``PoseEstimation``
      containers, read with ``pynwb`` + ``ndx-pose`` (``pip install "st-gcn[nwb]"``, or
      ``pip install pynwb ndx-pose``): :func:`read_nwb`.
    * Anipose 3-D output (a one-header-row CSV of ``<bodypart>_x, _y, _z, _error, _ncams, _score`` columns) is
      refused with a message saying what it is, as DeepLabCut 3-D output is.

LightningPose writes its video predictions as DeepLabCut-style CSVs (3 header rows: scorer ``<model>_tracker``,
bodyparts, coords x/y/likelihood; a leading frame-number column); :mod:`feeder.dlc_io` reads them as they are.

Every reader returns a :class:`feeder.dlc_io.PoseRecording` (``xy`` (T, I, V, 2) pixels, NaN where missing;
``score`` (T, I, V), 0 where missing). What a format knows beyond that goes in ``PoseRecording.extra``:
``fps`` (frames per second, or None), ``timestamps`` (T,) seconds (NWB), ``frame_size`` (width, height) pixels when
the file states it, and for SLEAP ``instance_score`` (T, I) and ``user_labelled`` (T, I).

:func:`write_ethogram_nwb` writes the bouts of an ethogram as an NWB ``TimeIntervals`` table, into a copy of the pose
NWB file or into a new file. Nothing here imports sleap-io or pynwb until a file needs them.
"""
from __future__ import annotations

import csv
import datetime
import importlib
import logging
import os
import shutil
import uuid
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from torchlight import atomic_path

from .dlc_io import HDF5_SIGNATURE, PoseRecording

logger = logging.getLogger(__name__)

SLEAP_INSTALL = 'pip install "st-gcn[sleap]" (or: pip install sleap-io)'
NWB_INSTALL = 'pip install "st-gcn[nwb]" (or: pip install pynwb ndx-pose)'
ANIPOSE_3D_SUFFIXES = ('_x', '_y', '_z', '_error', '_ncams', '_score')
PIXEL_UNITS = ('pixels', 'pixel', 'px', 'pix')
DEFAULT_TABLE = 'behavior_labels'
_SLP_GROUPS = ('metadata', 'frames', 'instances')


# ------------------------------------------------------------------ detection
def sniff(path: str, head: bytes) -> str | None:
    """'slp', 'nwb' or 'anipose-3d' when the file's content is one of these, else None (``head``: its first 8
    bytes)."""
    if head == HDF5_SIGNATURE:
        import h5py
        try:
            with h5py.File(path, 'r') as handle:
                if 'nwb_version' in handle.attrs:
                    return 'nwb'
                if all(name in handle for name in _SLP_GROUPS) and 'format_id' in handle['metadata'].attrs:
                    return 'slp'
        except OSError:
            return None  # dlc_io says why it cannot be opened
        return None
    columns = _first_csv_row(path)
    if any(c.endswith('_z') for c in columns) and {c.rpartition('_')[2] for c in columns} >= {'x', 'y', 'z', 'ncams'}:
        return 'anipose-3d'
    return None


def _first_csv_row(path: str) -> list[str]:
    with open(path, 'r', encoding='utf-8-sig', errors='replace', newline='') as handle:
        line = handle.readline(65536)
    if '\x00' in line:
        return []
    rows = list(csv.reader([line]))
    return [cell.strip().lower() for cell in rows[0]] if rows else []


def read_other_format(path: str, head: bytes) -> PoseRecording | None:
    """The recording of a .slp or NWB file, a ValueError for a refused format (Anipose 3-D), or None for a file
    :mod:`feeder.dlc_io` reads itself. Called by :func:`feeder.dlc_io.read_pose_file`."""
    kind = sniff(path, head)
    if kind == 'slp':
        return read_slp(path)
    if kind == 'nwb':
        return read_nwb(path)
    if kind == 'anipose-3d':
        raise ValueError(f'{path}: this is Anipose 3-D output (triangulated <bodypart>_x, _y, _z, _error, _ncams, '
                         '_score columns, in world units); only 2-D video-analysis output can be converted: use '
                         'one camera\'s 2-D poses (Anipose\'s pose-2d-filtered/ or pose-2d/ .h5 files, DeepLabCut '
                         'format)')
    return None


def _require(module: str, install: str, path: str, what: str) -> Any:
    """Import an optional package, or a one-line ValueError saying what the file is and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(f'{path}: is {what}; reading it needs the {module.split(".")[0]} package: '
                         f'{install}') from None


# ------------------------------------------------------------------ SLEAP .slp
def read_slp(path: str | os.PathLike, video: int | str | None = None) -> PoseRecording:
    """Read the poses of one video of a SLEAP project file (.slp) with sleap-io.

    Args:
        path: the .slp file.
        video: which video, when the file holds labelled frames of several: its index in the project, or its file
            name (or stem). None: the only one.

    Individuals are the project's tracks (in the project's track order; a track without a name is ``track<i>``);
    instances without a track in a tracked project are left out (counted in a warning). In a project without
    tracks, individuals are slots by the instances' order in each frame (``instance0``, ``instance1``, ...), which
    need not follow one animal from frame to frame. Where a frame holds both a user-labelled and a predicted
    instance of the same animal (the same track, or a user instance corrected from that prediction), the
    user-labelled one is taken (as SLEAP shows it). Scores: the predicted points' scores; 1 for the visible points
    of a user-labelled instance; 0 where a point is missing. ``extra`` holds ``instance_score`` (T, I) (NaN for
    user-labelled or absent instances), ``user_labelled`` (T, I), ``frame_size`` when the video's size is stored,
    ``video`` (its file name) and ``fps`` None (.slp files do not state it).
    """
    path = os.fspath(path)
    sio = _require('sleap_io', SLEAP_INSTALL, path, 'a SLEAP project file (.slp)')
    try:
        labels = sio.load_slp(path, open_videos=False)
    except Exception as exc:  # sleap-io raises many kinds for a damaged file; all mean "cannot read it"
        raise ValueError(f'{path}: sleap-io cannot read this .slp file ({type(exc).__name__}: {exc})') from None
    frames_by_video: dict[int, list] = {}
    for frame in labels.labeled_frames:
        frames_by_video.setdefault(id(frame.video), []).append(frame)
    used = [v for v in labels.videos if id(v) in frames_by_video]
    if not used:
        raise ValueError(f'{path}: SLEAP project holds no labelled or predicted frames')
    chosen = _choose_video(path, labels.videos, used, video)
    frames = frames_by_video[id(chosen)]
    skeletons = {id(inst.skeleton): inst.skeleton for frame in frames for inst in frame.instances}
    if len(skeletons) != 1:
        if not skeletons:
            raise ValueError(f'{path}: the frames of {chosen.filename} hold no instances')
        names = ', '.join(str(s.name) for s in skeletons.values())
        raise ValueError(f'{path}: the instances of {chosen.filename} use {len(skeletons)} skeletons ({names}); '
                         'one skeleton per recording is needed')
    skeleton = next(iter(skeletons.values()))
    bodyparts = [str(name) for name in skeleton.node_names]

    tracked = any(inst.track is not None for frame in frames for inst in frame.instances)
    if tracked:
        used_tracks = {id(inst.track): inst.track for fr in frames for inst in fr.instances if inst.track is not None}
        tracks = [t for t in labels.tracks if id(t) in used_tracks]              # the project's order
        tracks += [t for key, t in used_tracks.items() if all(key != id(u) for u in tracks)]
        individuals = _unique([str(t.name or f'track{i}') for i, t in enumerate(tracks)])
        slot_of = {id(t): i for i, t in enumerate(tracks)}
    per_frame = []
    untracked = duplicates = 0
    for frame in frames:
        chosen_instances = _preferred_instances(frame.instances, sio.PredictedInstance, tracked)
        if tracked:
            slots: dict[int, Any] = {}
            for inst in chosen_instances:
                if inst.track is None:
                    untracked += 1
                elif slot_of[id(inst.track)] in slots:
                    duplicates += 1
                else:
                    slots[slot_of[id(inst.track)]] = inst
            per_frame.append((frame.frame_idx, slots))
        else:
            per_frame.append((frame.frame_idx, dict(enumerate(chosen_instances))))
    if not tracked:
        individuals = [f'instance{i}' for i in range(max((len(s) for _, s in per_frame), default=0))]
    if untracked:
        logger.warning('%s: %d instance(s) without a track left out (the project is tracked)', path, untracked)
    if duplicates:
        logger.warning('%s: %d frame(s) with two instances of one track: the first of each kept', path, duplicates)

    shape = _video_shape(chosen)
    num_frames = max(max(idx for idx, _ in per_frame) + 1, shape[0] if shape else 0)
    T, I, V = num_frames, len(individuals), len(bodyparts)
    xy = np.full((T, I, V, 2), np.nan, dtype=np.float32)
    score = np.zeros((T, I, V), dtype=np.float32)
    instance_score = np.full((T, I), np.nan, dtype=np.float32)
    user = np.zeros((T, I), dtype=bool)
    for idx, slots in per_frame:
        for i, inst in slots.items():
            if isinstance(inst, sio.PredictedInstance):
                points = np.asarray(inst.numpy(scores=True), dtype=np.float32)     # (V, 3)
                xy[idx, i], score[idx, i] = points[:, :2], points[:, 2]
                instance_score[idx, i] = float(inst.score) if inst.score is not None else np.nan
            else:
                points = np.asarray(inst.numpy(), dtype=np.float32)                # (V, 2)
                xy[idx, i], score[idx, i] = points, 1.0
                user[idx, i] = True
    missing = ~np.isfinite(xy).all(axis=-1) | ~np.isfinite(score)                  # (T, I, V)
    xy[missing] = np.nan
    score[missing] = 0.0
    extra = {'fps': None, 'instance_score': instance_score, 'user_labelled': user, 'video': str(chosen.filename),
             'tracked': tracked}
    if shape and len(shape) >= 3:
        extra['frame_size'] = (float(shape[2]), float(shape[1]))
    return PoseRecording(bodyparts=bodyparts, individuals=individuals, xy=xy, score=score, source=path, fmt='slp',
                         extra=extra)


def _choose_video(path: str, videos: Sequence, used: Sequence, video: int | str | None):
    if video is None:
        if len(used) > 1:
            names = ', '.join(f'{videos.index(v)}: {v.filename}' for v in used)
            raise ValueError(f'{path}: the SLEAP project holds frames of {len(used)} videos ({names}); one pose '
                             'recording is one video: split the project per video (sleap-io: Labels.split or '
                             'Labels.extract), or read it in Python with feeder.pose_formats.read_slp(path, video=K)')
        return used[0]
    if isinstance(video, int):
        if not 0 <= video < len(videos):
            raise ValueError(f'{path}: video={video}: the project has videos 0 to {len(videos) - 1}')
        return videos[video]
    for v in videos:
        name = os.path.basename(str(v.filename))
        if video in (str(v.filename), name, os.path.splitext(name)[0]):
            return v
    raise ValueError(f'{path}: video={video!r} is none of the project\'s videos '
                     f'({", ".join(str(v.filename) for v in videos)})')


def _preferred_instances(instances: Sequence, predicted_class: type, tracked: bool) -> list:
    """The instances of one frame without the predictions a user-labelled instance replaces: in a tracked project
    the predictions of a track that has a user-labelled instance; in an untracked one the predictions a user
    instance was corrected from (``from_predicted``). The order of the frame is kept."""
    users = [inst for inst in instances if not isinstance(inst, predicted_class)]
    if tracked:
        replaced_tracks = {id(inst.track) for inst in users if inst.track is not None}
        return [inst for inst in instances
                if not (isinstance(inst, predicted_class) and inst.track is not None
                        and id(inst.track) in replaced_tracks)]
    replaced = {id(inst.from_predicted) for inst in users if getattr(inst, 'from_predicted', None) is not None}
    return [inst for inst in instances if not (isinstance(inst, predicted_class) and id(inst) in replaced)]


def _video_shape(video) -> tuple[int, ...] | None:
    """(frames, height, width, channels) of a SLEAP video when the project stores it, without opening the video."""
    try:
        shape = video.shape
    except Exception:  # a backend that cannot open the (absent) video; the shape is then simply unknown
        shape = None
    if shape is None:
        shape = (getattr(video, 'backend_metadata', None) or {}).get('shape')
    return tuple(int(s) for s in shape) if shape else None


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f'{name}_{count}')
    return out


# ------------------------------------------------------------------ NWB (ndx-pose)
def _pynwb(path: str) -> Any:
    """pynwb, with ndx-pose imported so that its types are registered; a ValueError naming the install line."""
    pynwb = _require('pynwb', NWB_INSTALL, path, 'an NWB file')
    _require('ndx_pose', NWB_INSTALL, path, 'an NWB file of pose estimates (ndx-pose)')
    return pynwb


def _pose_containers(nwbfile) -> list[tuple[str, str, Any]]:
    """(processing module, name, PoseEstimation) of every ndx-pose PoseEstimation in the file's processing modules
    (matched by neurodata type, so that a file written with another ndx-pose version is read too)."""
    found = []
    for module_name, module in nwbfile.processing.items():
        for name, obj in module.data_interfaces.items():
            if getattr(obj, 'neurodata_type', type(obj).__name__) == 'PoseEstimation':
                found.append((module_name, name, obj))
    return found


def read_nwb(path: str | os.PathLike, module: str | None = None) -> PoseRecording:
    """Read the ndx-pose pose estimates of an NWB file with pynwb.

    Args:
        path: the .nwb file (HDF5).
        module: the processing module to read, when PoseEstimation containers lie in several (as a file of several
            videos written by sleap-io: ``SLEAP_VIDEO_000_<video>``, ...). None: the only one.

    Each PoseEstimation container of the module is one individual (the DeepLabCut and sleap-io NWB writers put one
    animal or track in each); each of its PoseEstimationSeries is one bodypart, in its skeleton's node order when
    it has a skeleton. An individual is named by its skeleton's subject (``subject_id``), else by the file's
    subject when there is one container, else by the container's name (sleap-io's ``track=`` prefix dropped).
    Points with NaN coordinates or confidence are missing; a series without confidence gets score 1 (with a
    warning). ``extra``: ``timestamps`` (T,) seconds, ``fps`` (the series' rate, else 1 / the median timestamp
    step), ``frame_size`` (width, height of the source video's ``dimension``, or of the older ``dimensions``, when
    given) and ``nwb_module``.
    """
    path = os.fspath(path)
    pynwb = _pynwb(path)
    try:
        io = pynwb.NWBHDF5IO(path, mode='r', load_namespaces=True)
    except Exception as exc:  # pynwb/hdmf raise many kinds for a file they cannot parse
        raise ValueError(f'{path}: pynwb cannot open this NWB file ({type(exc).__name__}: {exc})') from None
    with io:
        try:
            nwbfile = io.read()
        except Exception as exc:
            raise ValueError(f'{path}: pynwb cannot read this NWB file ({type(exc).__name__}: {exc})') from None
        containers = _pose_containers(nwbfile)
        if not containers:
            modules = ', '.join(nwbfile.processing) or 'none'
            training = [name for module in nwbfile.processing.values() for name, obj in module.data_interfaces.items()
                        if getattr(obj, 'neurodata_type', '') == 'PoseTraining']
            if training:
                raise ValueError(f'{path}: NWB file holds ndx-pose training annotations (PoseTraining: labelled '
                                 'frames), not the pose estimates of a recording (PoseEstimation)')
            raise ValueError(f'{path}: NWB file holds no ndx-pose PoseEstimation (processing modules: {modules}); '
                             'pose estimates are stored with ndx-pose, as DeepLabCut\'s and SLEAP\'s NWB export '
                             'write them')
        modules = list(dict.fromkeys(m for m, _, _ in containers))
        if module is None and len(modules) > 1:
            raise ValueError(f'{path}: PoseEstimation containers lie in {len(modules)} processing modules '
                             f'({", ".join(modules)}), one per video; read one with '
                             'feeder.pose_formats.read_nwb(path, module=NAME)')
        module = module if module is not None else modules[0]
        if module not in modules:
            raise ValueError(f'{path}: module={module!r} holds no PoseEstimation (those that do: '
                             f'{", ".join(modules)})')
        chosen = [(name, obj) for m, name, obj in containers if m == module]
        file_subject = getattr(getattr(nwbfile, 'subject', None), 'subject_id', None)
        return _assemble_nwb(path, module, chosen, file_subject)


def _individual_name(name: str, container, file_subject: str | None, single: bool) -> str:
    skeleton = getattr(container, 'skeleton', None)
    subject = getattr(skeleton, 'subject', None) if skeleton is not None else None
    if subject is not None and getattr(subject, 'subject_id', None):
        return str(subject.subject_id)
    if single and file_subject:
        return str(file_subject)
    return name[len('track='):] if name.startswith('track=') else name


def _series_times(path: str, series) -> tuple[np.ndarray, float | None]:
    """(timestamps (T,) seconds, rate or None) of a series."""
    n = len(series.data)
    if series.timestamps is not None:
        timestamps = np.asarray(series.timestamps[:], dtype=np.float64)
        if len(timestamps) != n:
            raise ValueError(f'{path}: series {series.name!r} has {n} frames but {len(timestamps)} timestamps')
        return timestamps, None
    rate = float(series.rate) if series.rate else None
    if not rate:
        raise ValueError(f'{path}: series {series.name!r} has neither timestamps nor a rate')
    start = float(series.starting_time or 0.0)
    return start + np.arange(n) / rate, rate


def _nwb_frame_size(container) -> tuple[float, float] | None:
    """(width, height) in pixels of a PoseEstimation's video: its source video's ``dimension`` (ndx-pose 0.2 and
    later), else its ``dimensions`` (earlier files), else None."""
    video = getattr(container, 'source_video', None)
    dimension = getattr(video, 'dimension', None) if video is not None else None
    if dimension is not None and len(dimension) >= 2:
        return float(dimension[0]), float(dimension[1])
    dims = getattr(container, 'dimensions', None)
    if dims is not None and len(dims):
        width, height = np.asarray(dims[:], dtype=np.float64)[0][:2]
        return float(width), float(height)
    return None


def _assemble_nwb(path: str, module: str, containers: Sequence[tuple[str, Any]],
                  file_subject: str | None) -> PoseRecording:
    individuals = _unique([_individual_name(name, obj, file_subject, len(containers) == 1)
                           for name, obj in containers])
    bodyparts: list[str] = []
    per_individual: list[dict[str, Any]] = []
    timestamps: np.ndarray | None = None
    rate: float | None = None
    frame_size = None
    for name, container in containers:
        series = dict(container.pose_estimation_series)
        skeleton = getattr(container, 'skeleton', None)
        nodes = [str(n) for n in skeleton.nodes[:]] if skeleton is not None else []
        order = [n for n in nodes if n in series] + [n for n in series if n not in nodes]
        bodyparts.extend(n for n in order if n not in bodyparts)
        per_individual.append(series)
        for series_name in order:
            s = series[series_name]
            if np.ndim(s.data) != 2 or s.data.shape[1] not in (2, 3):
                raise ValueError(f'{path}: series {name}/{series_name} has data of shape {s.data.shape}; expected '
                                 '(frames, 2) for x, y')
            if s.data.shape[1] == 3:
                raise ValueError(f'{path}: series {name}/{series_name} holds 3-D poses (x, y, z); only 2-D '
                                 'video-analysis output (x, y in pixels) can be converted')
            times, series_rate = _series_times(path, s)
            if timestamps is None:
                timestamps, rate = times, series_rate
                unit = str(getattr(s, 'unit', '') or '')
                if unit and unit.lower() not in PIXEL_UNITS:
                    logger.warning('%s: poses are in %r, not pixels; give the frame size in those units', path, unit)
            elif len(times) != len(timestamps):
                raise ValueError(f'{path}: series {name}/{series_name} has {len(times)} frames but the first '
                                 f'series has {len(timestamps)}; every bodypart needs one value per frame')
        if frame_size is None:
            frame_size = _nwb_frame_size(container)
    assert timestamps is not None  # every container has at least one series (ndx-pose requires it)
    T, I, V = len(timestamps), len(individuals), len(bodyparts)
    xy = np.full((T, I, V, 2), np.nan, dtype=np.float32)
    score = np.zeros((T, I, V), dtype=np.float32)
    no_confidence = []
    for i, series in enumerate(per_individual):
        for v, bodypart in enumerate(bodyparts):
            s = series.get(bodypart)
            if s is None:
                continue
            xy[:, i, v] = np.asarray(s.data[:], dtype=np.float32)
            if s.confidence is not None:
                score[:, i, v] = np.asarray(s.confidence[:], dtype=np.float32)
            else:
                score[:, i, v] = 1.0
                no_confidence.append(bodypart)
    if no_confidence:
        logger.warning('%s: series without confidence (%s): every point of them gets score 1', path,
                       ', '.join(sorted(set(no_confidence))))
    missing = ~np.isfinite(xy).all(axis=-1) | ~np.isfinite(score)
    xy[missing] = np.nan
    score[missing] = 0.0
    fps = rate
    if fps is None and T > 1:
        steps = np.diff(timestamps)
        step = float(np.median(steps))
        if step <= 0:
            raise ValueError(f'{path}: timestamps do not increase (median step {step:g} s)')
        fps = float(f'{1.0 / step:.6g}')  # timestamps in float seconds: 25.000000000000533 is 25 fps
        if np.max(np.abs(steps - step)) > 0.5 * step:
            logger.warning('%s: irregular timestamps (steps from %.4g to %.4g s): frame rate taken as %.3f fps',
                           path, float(steps.min()), float(steps.max()), fps)
    extra = {'fps': fps, 'timestamps': timestamps, 'nwb_module': module}
    if frame_size is not None:
        extra['frame_size'] = frame_size
    return PoseRecording(bodyparts=bodyparts, individuals=individuals, xy=xy, score=score, source=path, fmt='nwb',
                         extra=extra)


# ------------------------------------------------------------------ ethograms into NWB
def bouts_from_tracks(tracks: Sequence[Mapping[str, Any]], class_names: Sequence[str]) -> list[dict[str, Any]]:
    """The bouts of ``main.py demo``'s tracks (``{'individual', 'bouts': [(label, start, end, confidence)]}``)
    as rows for :func:`write_ethogram_nwb` (the columns of bouts.csv)."""
    return [{'individual': str(track['individual']), 'label': class_names[label], 'start_frame': int(start),
             'end_frame': int(end), 'mean_confidence': float(confidence)}
            for track in tracks for label, start, end, confidence in track['bouts']]


def _bout_rows(bouts: Any, class_names: Sequence[str]) -> list[dict[str, Any]]:
    if hasattr(bouts, 'to_dict') and hasattr(bouts, 'columns'):  # a pandas DataFrame in the bouts.csv layout
        bouts = bouts.to_dict('records')
    rows = []
    for k, bout in enumerate(bouts):
        missing = [key for key in ('label', 'start_frame', 'end_frame') if key not in bout]
        if missing:
            raise ValueError(f'bout {k}: no {", ".join(missing)} (each bout needs label, start_frame, end_frame; '
                             'individual and mean_confidence are optional)')
        label = bout['label']
        if isinstance(label, (int, np.integer)):
            if not 0 <= label < len(class_names):
                raise ValueError(f'bout {k}: label {label} is not a class index (0 to {len(class_names) - 1})')
            label = class_names[label]
        elif str(label) not in class_names:
            raise ValueError(f'bout {k}: label {label!r} is not one of {", ".join(class_names)}')
        start, end = int(bout['start_frame']), int(bout['end_frame'])
        if start < 0 or end < start:
            raise ValueError(f'bout {k}: frames {start} to {end} (0-based, end inclusive) are not a bout')
        confidence = bout.get('mean_confidence')
        rows.append({'individual': str(bout.get('individual', '') or ''), 'label': str(label), 'start_frame': start,
                     'end_frame': end,
                     'mean_confidence': float(confidence) if confidence is not None else float('nan')})
    return rows


def write_ethogram_nwb(path: str | os.PathLike, bouts: Iterable[Mapping[str, Any]] | Any,
                       class_names: Sequence[str], fps: float | None, source_nwb: str | os.PathLike | None = None,
                       table_name: str = DEFAULT_TABLE, description: str | None = None) -> str:
    """Write behaviour bouts as an NWB ``TimeIntervals`` table (``/intervals/<table_name>``); return ``path``.

    Args:
        path: the NWB file to write (replaced atomically; never the same file as ``source_nwb``).
        bouts: rows with ``label`` (a class name or index), ``start_frame``, ``end_frame`` (0-based, inclusive),
            optional ``individual`` and ``mean_confidence``: bouts.csv of ``main.py demo`` read with pandas, or
            :func:`bouts_from_tracks` of its tracks.
        class_names: the model's classes (named in the table's description).
        fps: the recording's frame rate; bouts without ``source_nwb`` are timed ``start_frame / fps`` to
            ``(end_frame + 1) / fps`` seconds from the first frame.
        source_nwb: the pose NWB file the bouts were labelled from: ``path`` becomes a copy of it with the table
            added, and bouts are timed by its pose timestamps (the frame's timestamp; the end is the next frame's).
        table_name: the table's name in ``/intervals``.

    Columns: start_time, stop_time (seconds, NWB's), label, individual, start_frame, end_frame, mean_confidence.
    """
    path = os.fspath(path)
    pynwb = _pynwb(path)
    from pynwb.epoch import TimeIntervals

    rows = _bout_rows(bouts, list(class_names))
    timestamps = None
    if source_nwb is not None:
        source_nwb = os.fspath(source_nwb)
        if os.path.exists(path) and os.path.samefile(path, source_nwb):
            raise ValueError(f'{path}: is the source NWB file; write the ethogram into another file (a copy of it '
                             'with the table added)')
        source = read_nwb(source_nwb)
        timestamps = source.extra['timestamps']
        fps = fps or source.extra.get('fps')
    if timestamps is None and not fps:
        raise ValueError('writing bouts to NWB needs the frame rate (fps) or a source NWB file with timestamps')
    frame_time = (1.0 / fps) if fps else float(np.median(np.diff(timestamps))) if len(timestamps) > 1 else 0.0

    def seconds(frame: int) -> float:
        if timestamps is None:
            return frame / fps
        if frame < len(timestamps):
            return float(timestamps[frame])
        return float(timestamps[-1]) + (frame - len(timestamps) + 1) * frame_time

    table = TimeIntervals(name=table_name, description=description or (
        'behaviour bouts labelled by st-gcn (skeleton-based action recognition); classes: ' + ', '.join(class_names)))
    table.add_column(name='label', description='behaviour class of the bout')
    table.add_column(name='individual', description='animal (track) the bout belongs to')
    table.add_column(name='start_frame', description='first frame of the bout (0-based)')
    table.add_column(name='end_frame', description='last frame of the bout (0-based, inclusive)')
    table.add_column(name='mean_confidence', description='mean of the per-frame class probability over the bout')
    for row in sorted(rows, key=lambda r: (r['start_frame'], r['individual'])):
        table.add_row(start_time=seconds(row['start_frame']), stop_time=seconds(row['end_frame'] + 1), **row)

    with atomic_path(path) as tmp:
        if source_nwb is None:
            nwbfile = pynwb.NWBFile(session_description='behaviour labels written by st-gcn',
                                    identifier=str(uuid.uuid4()),
                                    session_start_time=datetime.datetime.now(datetime.timezone.utc))
            nwbfile.add_time_intervals(table)
            with pynwb.NWBHDF5IO(tmp, mode='w') as io:
                io.write(nwbfile)
        else:
            shutil.copyfile(source_nwb, tmp)
            with pynwb.NWBHDF5IO(tmp, mode='a', load_namespaces=True) as io:
                nwbfile = io.read()
                if nwbfile.intervals is not None and table_name in nwbfile.intervals:
                    raise ValueError(f'{source_nwb}: already has an intervals table {table_name!r}; give another '
                                     'table_name')
                nwbfile.add_time_intervals(table)
                io.write(nwbfile)
    return path
