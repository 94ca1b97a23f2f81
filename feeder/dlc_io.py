"""Reading DeepLabCut / SLEAP pose files: poses in pixels, bodypart order, frame size and videos.

Shared by ``tools/csv2json.py`` and ``main.py demo``; what happens to the poses next (gap filling,
normalising, the model's input) is :mod:`feeder.model_input`. Nothing here runs at import time.

Array conventions (one recording):
    T  frames, I  individuals (animals), V  bodyparts (graph nodes, in graph order)
    ``xy``    float32 (T, I, V, 2)  pixel coordinates; NaN where the point is missing
    ``score`` float32 (T, I, V)     detection likelihood in [0, 1]; 0 where the point is missing

Formats are detected from the file's content, never from its extension:
    * single-animal DLC CSV, 3 header rows (scorer, bodyparts, coords)
    * multi-animal DLC CSV, 4 header rows (scorer, individuals, bodyparts, coords), with an
      optional ``single`` block of unique bodyparts (attached to every individual or dropped)
    * DLC ``.h5`` (pandas HDFStore; key ``df_with_missing``, else the file's only key)
    * SLEAP analysis ``.h5`` (``tracks`` (n_tracks, 2, n_nodes, n_frames), ``node_names``,
      ``point_scores``, optional ``track_names``)
Quirks handled: CRLF line endings, pandas-suffixed scorer cells (``name.1``), a leading column of
row numbers (a file re-saved by pandas' ``to_csv``), missing points
written as NaN or as the ``0,0,0`` triple. DLC labeled data (``CollectedData_*.csv``), DLC 3-D
and skeleton-analysis outputs are refused with a message saying what the file is.
"""
from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from torchlight import closest

logger = logging.getLogger(__name__)

HDF5_SIGNATURE = b'\x89HDF\r\n\x1a\n'
SINGLE_INDIVIDUAL = 'single'          # maDLC's name for the block of unique bodyparts
DEFAULT_INDIVIDUAL = 'animal'         # name given to the one animal of a single-animal file
SINGLE_MODES = ('attach', 'drop')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.mpg', '.mpeg', '.wmv', '.m4v')
POSE_EXTENSIONS = ('.csv', '.h5', '.hdf5', '.slp', '.nwb')
_HEADER_3 = ['scorer', 'bodyparts', 'coords']
_HEADER_4 = ['scorer', 'individuals', 'bodyparts', 'coords']
_IMAGE_PATH = re.compile(r'(labeled-data|\.png$|\.jpe?g$|\.bmp$|\.tiff?$)', re.IGNORECASE)


@dataclass
class PoseRecording:
    """One recording's poses in pixels.

    Attributes:
        bodyparts: V names, in node order.
        individuals: I names (``['animal']`` for a single-animal file).
        xy: float32 (T, I, V, 2) pixel coordinates, NaN where missing.
        score: float32 (T, I, V) likelihood, 0 where missing (NaN or 0,0,0 triple).
        source: path of the file it was read from.
        fmt: detected format ('dlc-csv-3', 'dlc-csv-4', 'dlc-h5', 'sleap-h5').
    """
    bodyparts: list[str]
    individuals: list[str]
    xy: np.ndarray
    score: np.ndarray
    source: str
    fmt: str = ''
    extra: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])

    @property
    def name(self) -> str:
        """The recording name: the file name without its extension."""
        return os.path.splitext(os.path.basename(self.source))[0]


# ------------------------------------------------------------------ reading
def read_pose_file(path: str | os.PathLike, single: str = 'attach') -> PoseRecording:
    """Read a DLC CSV / DLC h5 / SLEAP analysis h5 file, detecting the format from its content (SLEAP .slp and
    NWB files are read by :mod:`feeder.pose_formats`, through their optional libraries).

    Args:
        path: the pose file.
        single: what to do with a maDLC ``single`` block of unique bodyparts: 'attach' them
            to every individual (as extra nodes after the animal's own bodyparts) or 'drop' them.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is empty, is not video-analysis output, or is malformed; the
            message names the file and what is wrong.
    """
    path = os.fspath(path)
    if single not in SINGLE_MODES:
        raise ValueError(f'single={single!r} is not allowed; choose one of {", ".join(SINGLE_MODES)}')
    if not os.path.exists(path):
        raise FileNotFoundError(f'{path}: no such file')
    if os.path.isdir(path):
        raise ValueError(f'{path}: is a folder, expected a pose file (.csv or .h5)')
    with open(path, 'rb') as handle:
        head = handle.read(8)
    from . import pose_formats  # SLEAP .slp and NWB through their libraries; Anipose 3-D refused
    other = pose_formats.read_other_format(path, head)
    if other is not None:
        return other
    if head == HDF5_SIGNATURE:
        return _read_h5(path, single)
    return _read_csv(path, single)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: str, single: str) -> PoseRecording:
    import pandas as pd

    with open(path, 'r', encoding='utf-8-sig', errors='replace', newline='') as handle:
        head_text = ''.join(handle.readline() for _ in range(12))
    if not head_text.strip():
        raise ValueError(f'{path}: file is empty (expected a DeepLabCut CSV or .h5 pose file)')
    if '\x00' in head_text:
        raise ValueError(f'{path}: not a text CSV nor an HDF5 file (binary content); expected a '
                         'DeepLabCut CSV or .h5 pose file')
    rows = [row for row in csv.reader(io.StringIO(head_text)) if row]
    # a file re-saved by pandas (DataFrame.to_csv of the frame read with header=[0, 1, 2]) has an extra leading
    # column of row numbers: '' or a number before 'scorer', 'bodyparts', 'coords' and before each frame's row
    lead = int(len(rows) > 1 and len(rows[0]) > 1 and rows[0][1].strip().lower() == 'scorer'
               and (rows[0][0].strip() == '' or _is_number(rows[0][0])))
    rows = [row[lead:] for row in rows]

    depth = 0
    for row in rows:
        first = row[0].strip()
        if _is_number(first) or _IMAGE_PATH.search(first):
            break
        depth += 1
    header = rows[:depth]
    header_cells = {cell.strip().lower() for row in header for cell in row[1:]}
    first_cells = [row[0].strip().lower() for row in header]
    data_rows = rows[depth:]

    if {'length', 'orientation'} & header_cells:
        raise ValueError(f'{path}: this is a DeepLabCut skeleton-analysis file (bone length and '
                         'orientation), not pose output; convert the video-analysis CSV/.h5 instead')
    labeled = bool(data_rows) and bool(_IMAGE_PATH.search(data_rows[0][0].strip()))
    coords = [cell.strip().lower() for cell in header[-1][1:]] if header else []
    if labeled or (first_cells in (_HEADER_3, _HEADER_4) and 'likelihood' not in coords
                   and set(coords) <= {'x', 'y', ''}):
        raise ValueError(f'{path}: this is DeepLabCut labeled data (human annotations: index of '
                         'image paths, x and y only, no likelihood), not video-analysis output; '
                         'convert the CSV/.h5 written by deeplabcut.analyze_videos instead')
    if 'z' in coords:
        raise ValueError(f'{path}: this is DeepLabCut 3-D output (coords x, y, z); only 2-D '
                         'video-analysis output (x, y, likelihood) can be converted')
    if first_cells not in (_HEADER_3, _HEADER_4):
        found = ', '.join(repr(c) for c in first_cells) or 'none'
        if not header:
            raise ValueError(f'{path}: no header rows before the first data row; expected 3 header '
                             'rows (scorer, bodyparts, coords) or 4 (scorer, individuals, bodyparts, '
                             'coords) as DeepLabCut writes them')
        raise ValueError(f'{path}: wrong header: found {len(header)} header row(s) starting with '
                         f'{found}; expected 3 (scorer, bodyparts, coords) for single-animal or 4 '
                         '(scorer, individuals, bodyparts, coords) for multi-animal DeepLabCut output')
    if not data_rows:
        raise ValueError(f'{path}: has a DeepLabCut header but no data rows (0 frames)')

    ncols = len(header[-1])
    for level, row in zip(first_cells, header):
        if len(row) != ncols:
            raise ValueError(f'{path}: header row {level!r} has {len(row)} cells but the coords row '
                             f'has {ncols}')
    if depth == 4:
        columns = [(ind.strip(), bp.strip(), co.strip().lower())
                   for ind, bp, co in zip(header[1][1:], header[2][1:], header[3][1:])]
    else:
        columns = [(None, bp.strip(), co.strip().lower())
                   for bp, co in zip(header[1][1:], header[2][1:])]

    try:
        frame = pd.read_csv(path, header=None, skiprows=depth, low_memory=False,
                            skip_blank_lines=True, encoding='utf-8-sig')
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f'{path}: cannot parse the data rows: {exc}') from None
    if frame.shape[1] != ncols + lead:
        raise ValueError(f'{path}: the data rows have {frame.shape[1] - lead} columns but the header has '
                         f'{ncols}')
    frame = frame.iloc[:, lead:]
    values = frame.iloc[:, 1:]
    bad_cols = [c for c in range(values.shape[1])
                if not pd.api.types.is_numeric_dtype(values.dtypes.iloc[c])]
    if bad_cols:
        col = bad_cols[0]
        numeric = pd.to_numeric(values.iloc[:, col], errors='coerce')
        raw = values.iloc[:, col]
        bad = np.flatnonzero(numeric.isna().to_numpy() & raw.notna().to_numpy())
        row_index = int(bad[0]) if len(bad) else 0
        ind, bp, co = columns[col]
        where = f'{ind}/{bp}/{co}' if ind else f'{bp}/{co}'
        raise ValueError(f'{path}: non-numeric cell {raw.iloc[row_index]!r} at line '
                         f'{depth + row_index + 1}, column {col + 2 + lead} ({where}); every x, y and '
                         'likelihood cell must be a number or empty')
    array = values.to_numpy(dtype=np.float64)
    rec = _assemble(path, columns, array, single, fmt=f'dlc-csv-{depth}')
    return rec


def _read_h5(path: str, single: str) -> PoseRecording:
    import h5py

    try:
        with h5py.File(path, 'r') as handle:
            keys = list(handle.keys())
            if 'tracks' in keys and isinstance(handle['tracks'], h5py.Dataset) and 'node_names' in keys:
                return _read_sleap(path, handle)
    except OSError as exc:
        raise ValueError(f'{path}: cannot open as HDF5: {exc}') from None
    return _read_dlc_h5(path, keys, single)


def _decode(names: Iterable) -> list[str]:
    return [n.decode('utf-8') if isinstance(n, bytes) else str(n) for n in names]


def _read_sleap(path: str, handle) -> PoseRecording:
    tracks = np.asarray(handle['tracks'][()], dtype=np.float32)   # (n_tracks, 2, n_nodes, n_frames)
    nodes = _decode(handle['node_names'][()])
    if tracks.ndim != 4 or tracks.shape[1] != 2:
        raise ValueError(f'{path}: SLEAP dataset "tracks" has shape {tracks.shape}; expected '
                         '(n_tracks, 2, n_nodes, n_frames)')
    n_tracks, _, n_nodes, n_frames = tracks.shape
    if n_tracks == 0 or n_frames == 0:
        raise ValueError(f'{path}: SLEAP file holds no poses (tracks shape {tracks.shape})')
    if len(nodes) != n_nodes:
        raise ValueError(f'{path}: SLEAP "node_names" has {len(nodes)} names but "tracks" has '
                         f'{n_nodes} nodes')
    names = (_decode(handle['track_names'][()]) if 'track_names' in handle else [])
    if len(names) != n_tracks:
        names = [f'track{i}' for i in range(n_tracks)]
    names = [n or f'track{i}' for i, n in enumerate(names)]
    xy = np.ascontiguousarray(tracks.transpose(3, 0, 2, 1))       # (T, I, V, 2)
    if 'point_scores' in handle:
        scores = np.asarray(handle['point_scores'][()], dtype=np.float32)
        if scores.shape != (n_tracks, n_nodes, n_frames):
            raise ValueError(f'{path}: SLEAP "point_scores" has shape {scores.shape}; expected '
                             f'{(n_tracks, n_nodes, n_frames)} to match "tracks"')
        score = np.ascontiguousarray(scores.transpose(2, 0, 1))   # (T, I, V)
    else:
        logger.warning('%s: SLEAP file has no "point_scores"; every tracked point gets score 1', path)
        score = np.ones((n_frames, n_tracks, n_nodes), dtype=np.float32)
    missing = ~np.isfinite(xy).all(axis=-1) | ~np.isfinite(score)
    score = np.where(missing, 0.0, score).astype(np.float32)
    xy[missing] = np.nan
    return PoseRecording(bodyparts=nodes, individuals=names, xy=xy, score=score, source=path,
                         fmt='sleap-h5')


def _read_dlc_h5(path: str, keys: list[str], single: str) -> PoseRecording:
    import pandas as pd

    try:
        store = pd.HDFStore(path, mode='r')
    except Exception as exc:  # PyTables raises many kinds; all mean "not a pandas HDF file"
        raise ValueError(f'{path}: HDF5 file is neither a SLEAP analysis file nor a pandas/DeepLabCut '
                         f'file ({type(exc).__name__}: {exc})') from None
    try:
        store_keys = [k.lstrip('/') for k in store.keys()]
        if 'df_with_missing' in store_keys:
            key = 'df_with_missing'
        elif len(store_keys) == 1:
            key = store_keys[0]
        else:
            shown = ', '.join(store_keys) or f'none (groups: {", ".join(keys) or "none"})'
            raise ValueError(f'{path}: HDF5 file has no "df_with_missing" table and not exactly one '
                             f'pandas key (keys: {shown}); expected DeepLabCut or SLEAP analysis output')
        frame = store[key]
    finally:
        store.close()
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise ValueError(f'{path}: key {key!r} holds no pose table')
    cols = frame.columns
    nlev = cols.nlevels
    level_names = [str(n).lower() if n is not None else '' for n in cols.names]
    if nlev not in (3, 4):
        raise ValueError(f'{path}: key {key!r} has {nlev} column levels ({level_names}); expected 3 '
                         '(scorer, bodyparts, coords) or 4 (scorer, individuals, bodyparts, coords)')
    if 'coords' in level_names:
        coord_level = level_names.index('coords')
    else:
        coord_level = nlev - 1
    coords = {str(c).lower() for c in cols.get_level_values(coord_level)}
    if 'z' in coords:
        raise ValueError(f'{path}: this is DeepLabCut 3-D output (coords x, y, z); only 2-D '
                         'video-analysis output (x, y, likelihood) can be converted')
    if 'likelihood' not in coords:
        raise ValueError(f'{path}: this is DeepLabCut labeled data (x and y only, no likelihood), '
                         'not video-analysis output; convert the file written by '
                         'deeplabcut.analyze_videos instead')
    if nlev == 4:
        columns = [(str(c[1]), str(c[2]), str(c[3]).lower()) for c in cols]
    else:
        columns = [(None, str(c[1]), str(c[2]).lower()) for c in cols]
    try:
        array = frame.to_numpy(dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise ValueError(f'{path}: key {key!r} has non-numeric cells ({exc})') from None
    return _assemble(path, columns, array, single, fmt='dlc-h5')


def _assemble(path: str, columns: Sequence[tuple[str | None, str, str]], array: np.ndarray,
              single: str, fmt: str) -> PoseRecording:
    """Gather (individual, bodypart, coord) columns of a (T, C) array into a PoseRecording."""
    allowed = {'x', 'y', 'likelihood'}
    position: dict[tuple[str, str, str], int] = {}
    extra_coords = sorted({co for _, _, co in columns if co not in allowed})
    if extra_coords:  # e.g. LightningPose's ensemble columns (x_ens_median, x_ens_var, ...) beside x, y, likelihood
        if not allowed <= {co for _, _, co in columns}:
            raise ValueError(f'{path}: coords {", ".join(extra_coords)} without x, y and likelihood; expected x, y '
                             'and likelihood columns')
        logger.info('%s: coords %s are not used (x, y and likelihood are)', path, ', '.join(extra_coords))
    for c, (ind, bp, co) in enumerate(columns):
        if co not in allowed:
            continue
        key = (ind if ind is not None else DEFAULT_INDIVIDUAL, bp, co)
        if key in position:
            raise ValueError(f'{path}: column {c + 2} repeats {"/".join(k for k in key)}')
        position[key] = c

    def ordered(items: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(items))

    all_inds = ordered(k[0] for k in position)
    animals = [i for i in all_inds if i != SINGLE_INDIVIDUAL] or all_inds
    own_bps = ordered(k[1] for k in position if k[0] in animals)
    unique_bps = ([] if animals == all_inds else
                  ordered(k[1] for k in position if k[0] == SINGLE_INDIVIDUAL))
    extra: dict[str, Any] = {'unique_bodyparts': unique_bps, 'single': single}
    if unique_bps and single == 'attach':
        clash = [bp for bp in unique_bps if bp in own_bps]
        if clash:
            raise ValueError(f'{path}: unique bodypart(s) {clash} of the "single" block have the same '
                             'name as an individual\'s bodypart; use --single drop')
        bodyparts = own_bps + unique_bps
    else:
        bodyparts = own_bps
    for ind in animals:
        for bp in own_bps:
            present = [co for co in ('x', 'y', 'likelihood') if (ind, bp, co) in position]
            if present and 'likelihood' not in present:
                raise ValueError(f'{path}: {ind}/{bp} has no likelihood column')
            if present and not {'x', 'y'} <= set(present):
                raise ValueError(f'{path}: {ind}/{bp} lacks an x or y column (has {present})')

    nan_col = array.shape[1]
    index = np.full((3, len(animals), len(bodyparts)), nan_col, dtype=np.intp)
    for i, ind in enumerate(animals):
        for v, bp in enumerate(bodyparts):
            owner = SINGLE_INDIVIDUAL if (bp in unique_bps and bp not in own_bps) else ind
            for k, co in enumerate(('x', 'y', 'likelihood')):
                index[k, i, v] = position.get((owner, bp, co), nan_col)
    padded = np.concatenate([array, np.full((array.shape[0], 1), np.nan)], axis=1)
    x = padded[:, index[0]]                                   # (T, I, V)
    y = padded[:, index[1]]
    lik = padded[:, index[2]]
    zero_triple = (x == 0) & (y == 0) & (lik == 0)
    missing = zero_triple | ~np.isfinite(x) | ~np.isfinite(y) | ~np.isfinite(lik)
    xy = np.stack([x, y], axis=-1).astype(np.float32)          # (T, I, V, 2)
    xy[missing] = np.nan
    score = np.where(missing, 0.0, lik).astype(np.float32)
    extra['zero_triples'] = int(zero_triple.sum())
    return PoseRecording(bodyparts=bodyparts, individuals=animals, xy=xy, score=score,
                         source=path, fmt=fmt, extra=extra)


# ------------------------------------------------------------------ bodyparts
def bodyparts_from_dlc_config(path: str | os.PathLike, include_unique: bool = True) -> list[str]:
    """Bodypart order from a DeepLabCut ``config.yaml`` (see :func:`net.utils.graph.read_dlc_config`).

    For a multi-animal project the unique bodyparts come last, and only with ``include_unique`` (that is, when the
    ``single`` block is attached).
    """
    from net.utils.graph import read_dlc_config
    return read_dlc_config(path, include_unique)[0]


def select_bodyparts(rec: PoseRecording, names: Sequence[str] | None,
                     rename: Mapping[str, str] | None = None) -> PoseRecording:
    """Return ``rec`` with its bodyparts renamed (``rename``: file name -> name, for files of projects that named
    the same point differently), then reordered (and subset) to ``names``.

    ``None`` keeps the file's own order. A name missing from the file is a ValueError naming the
    file, the bodypart and those the file has.
    """
    if rename:
        renamed = [rename.get(bp, bp) for bp in rec.bodyparts]
        if len(set(renamed)) != len(renamed):
            raise ValueError(f'{rec.source}: renaming the bodyparts gives one name twice: {", ".join(renamed)}')
        rec = PoseRecording(bodyparts=renamed, individuals=list(rec.individuals), xy=rec.xy, score=rec.score,
                            source=rec.source, fmt=rec.fmt, extra=dict(rec.extra))
    if names is None:
        return rec
    names = [str(n) for n in names]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f'bodypart list repeats {", ".join(duplicates)}')
    lookup = {bp: v for v, bp in enumerate(rec.bodyparts)}
    for name in names:
        if name not in lookup:
            raise ValueError(f'{rec.source}: bodypart {name!r} is not in this file'
                             f'{closest(name, rec.bodyparts)}; it has: {", ".join(rec.bodyparts)}')
    order = np.array([lookup[n] for n in names], dtype=np.intp)
    return PoseRecording(bodyparts=names, individuals=list(rec.individuals),
                         xy=rec.xy[:, :, order], score=rec.score[:, :, order], source=rec.source,
                         fmt=rec.fmt, extra=dict(rec.extra))


def parse_rename(items: Sequence[str] | None) -> dict[str, str]:
    """``['Left Ear=l_ear', ...]`` (command-line ``OLD=NEW`` pairs) as a mapping; a ValueError names a bad item."""
    mapping: dict[str, str] = {}
    for item in items or ():
        old, sep, new = str(item).partition('=')
        if not sep or not old.strip() or not new.strip():
            raise ValueError(f'--rename {item!r}: expected OLD=NEW (a bodypart name in the file = the name to use)')
        mapping[old.strip()] = new.strip()
    return mapping


# ------------------------------------------------------------------ frame size
def video_name_for(recording: str) -> str:
    """The video stem a DLC output name was made from (``m3v1mp4DLC_resnet50_...`` -> ``m3v1mp4``)."""
    match = re.search(r'(DLC_|DeepCut_)', recording)
    return recording[:match.start()] if match and match.start() > 0 else recording


def find_video(video_dir: str | os.PathLike, recording: str) -> str | None:
    """The video in ``video_dir`` whose name matches a recording (full stem, or the DLC prefix)."""
    video_dir = os.fspath(video_dir)
    if not os.path.isdir(video_dir):
        raise FileNotFoundError(f'{video_dir}: --video_dir is not a folder')
    wanted = [recording, video_name_for(recording)]
    videos = {}
    for entry in sorted(os.listdir(video_dir)):
        stem, ext = os.path.splitext(entry)
        if ext.lower() in VIDEO_EXTENSIONS:
            videos.setdefault(stem, os.path.join(video_dir, entry))
    for stem in wanted:
        if stem in videos:
            return videos[stem]
    return None


@contextlib.contextmanager
def open_video(video: str | os.PathLike) -> Iterator[Any]:
    """An OpenCV ``VideoCapture`` of ``video``, released on exit; ValueError naming the file if it cannot open."""
    import cv2

    video = os.fspath(video)
    if not os.path.isfile(video):
        raise FileNotFoundError(f'{video}: no such video')
    capture = cv2.VideoCapture(video)
    try:
        if not capture.isOpened():
            raise ValueError(f'{video}: OpenCV cannot open this video')
        yield capture
    finally:
        capture.release()


@dataclass(frozen=True)
class VideoInfo:
    """What OpenCV reports of a video: frame size in pixels, frame count and frame rate (0 when unknown)."""
    width: int
    height: int
    frames: int
    fps: float


def video_info(video: str | os.PathLike) -> VideoInfo:
    """:class:`VideoInfo` of a video; ValueError when OpenCV reports no frame size."""
    import cv2

    with open_video(video) as capture:
        info = VideoInfo(width=int(round(capture.get(cv2.CAP_PROP_FRAME_WIDTH))),
                         height=int(round(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))),
                         frames=int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
                         fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0))
    if info.width <= 0 or info.height <= 0:
        raise ValueError(f'{os.fspath(video)}: OpenCV reports frame size {info.width}x{info.height}')
    return info


def video_frame_size(video: str) -> tuple[int, int]:
    """(width, height) of a video read with OpenCV."""
    info = video_info(video)
    return info.width, info.height


def frame_size(rec: PoseRecording, width: float | None = None, height: float | None = None,
               video_dir: str | None = None, video: str | None = None) -> tuple[float, float, str]:
    """(width, height, where it came from) for one recording.

    Order: ``width``/``height`` given, else ``video``, else what the pose file states (``extra['frame_size']``
    of SLEAP and NWB files), else the matching video in ``video_dir``, else the largest valid coordinate (with
    a warning): a square of the coordinate range's larger side, as dividing x and y by different ranges would
    distort the animal's shape, and by different amounts in different recordings).
    """
    if (width is None) != (height is None):
        raise ValueError('give both --width and --height (pixels), or neither')
    if width is not None:
        if width <= 0 or height <= 0:
            raise ValueError(f'--width/--height must be positive pixels, got {width}x{height}')
        return float(width), float(height), 'given'
    if video is not None:
        w, h = video_frame_size(video)
        return float(w), float(h), f'video {video}'
    stated = rec.extra.get('frame_size')
    if stated:  # the pose file says (SLEAP projects, NWB)
        return float(stated[0]), float(stated[1]), 'the pose file'
    if video_dir is not None:
        video = find_video(video_dir, rec.name)
        if video is not None:
            w, h = video_frame_size(video)
            return float(w), float(h), f'video {video}'
        logger.warning('%s: no video named %r or %r in %s', rec.source, rec.name,
                       video_name_for(rec.name), video_dir)
    valid = rec.score > 0
    if not valid.any():
        w = h = 1.0
    else:
        w = float(np.nanmax(rec.xy[..., 0][valid]))
        h = float(np.nanmax(rec.xy[..., 1][valid]))
    side = float(max(1, math.ceil(max(w, h))))
    logger.warning('%s: frame size unknown; dividing both axes by the coordinate range\'s larger side %g, so that '
                   'angles and lengths keep their proportions (give --width/--height or --video_dir for true '
                   'frame-relative coordinates)', rec.source, side)
    return side, side, 'coordinate range'

