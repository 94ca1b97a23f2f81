"""Reading the behaviour annotations labs already have, and turning them into per-frame labels.

One reader for every format: :func:`read_annotations` detects the format from the file's content
(never from its extension) and returns one :class:`Annotation` per recording the file describes.
Nothing here runs at import time.

Formats (``Annotation.fmt``) and how each is recognised, in the order they are tried:
    * ``caltech``: Caltech Behavior Annotator ``.txt``: the first non-blank line starts with
      ``Caltech Behavior Annotator``. Streams ``S1:``, ``S2:``, ... of 1-based inclusive bouts.
    * ``boris-events``: BORIS tabular event export (CSV or TSV, old layout with a header block
      before the table, or the newer one-table layout): a header row holding ``Behavior`` and
      ``Time`` and ``Status`` (or ``Behavior type``) cells. START/STOP rows are paired per
      subject and behaviour; a POINT row is a one-frame bout.
    * ``boris-aggregated``: BORIS aggregated export: a header row holding ``Behavior``,
      ``Start (s)`` and ``Stop (s)``. One row per bout.
    * ``bouts-frames``: ``file,start_frame,end_frame,label`` (frames from 0, end inclusive), the
      bouts CSV of ``tools/csv2json.py``: a first row naming ``start_frame`` and ``end_frame``, or
      naming ``file`` without seconds columns (so a mistyped header gets this format's message).
    * ``bouts-seconds``: bouts in seconds with start, end and label columns named as in
      ``SECONDS_COLUMNS`` (``start_s,end_s,label``; the Sturman layout ``from,to,type``), an
      optional rater column and an optional recording column.
    * ``per-frame``: one row per frame with a label column (``frame,label``; names or integers).
    * ``per-frame-binary``: one row per frame, only 0/1 behaviour columns beside an optional
      frame column (BehaviorDEPOT's ``frame,freezing``).
    * ``simba``: SimBA-style targets: 0/1 behaviour columns beside pose columns (``Nose_1_x``,
      ``Nose_1_y``, ``Nose_1_p``) or other numeric (feature) columns.
A DeepLabCut pose CSV, an HDF5 or a binary file is refused with a message saying what it is.

Time -> frame convention (used by every reader of seconds, defined once in :func:`time_to_frames`):
frame ``f`` is on screen from ``f/fps`` to ``(f+1)/fps``; a bout from ``t0`` to ``t1`` seconds holds
the frames whose middle ``(f + 0.5)/fps`` lies in ``[t0, t1)``, i.e.
``start = ceil(t0*fps - 0.5)`` and ``end = ceil(t1*fps - 0.5) - 1``. Times written to the
millisecond (BORIS) are within half a millisecond of a frame boundary, far from a frame's middle,
so the rule gives the frames the annotator meant: on the BehaviorDEPOT exports (50 and 30 fps) it
reproduces the per-frame labels exactly. A bout that holds no frame middle (shorter than a frame)
is kept as its start frame; a point event at ``t`` is the frame ``ceil(t*fps - 0.5)`` (the frame
whose start is nearest to ``t``).
"""
from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from feeder import dlc_io, kinetics_json

logger = logging.getLogger(__name__)

FORMATS = {
    'boris-events': 'BORIS tabular event export (CSV/TSV: Time, Behavior, Status columns)',
    'boris-aggregated': 'BORIS aggregated export (Behavior, Start (s), Stop (s) columns)',
    'caltech': 'Caltech Behavior Annotator .txt',
    'simba': 'SimBA targets (0/1 behaviour columns beside pose/feature columns)',
    'per-frame': 'per-frame labels (frame,label)',
    'per-frame-binary': 'per-frame 0/1 behaviour columns (frame,<behaviour>,...)',
    'bouts-seconds': 'bouts in seconds (start_s,end_s,label; the Sturman from,to,type layout)',
    'bouts-frames': 'bouts in frames (file,start_frame,end_frame,label)',
}

# Column names accepted for bouts in seconds (lower case, first match wins).
SECONDS_COLUMNS = {
    'start': ('start_s', 'start (s)', 'start_sec', 'start_seconds', 'start_time', 'start time',
              'from', 'onset', 'begin_s', 't_start'),
    'end': ('end_s', 'stop_s', 'end (s)', 'stop (s)', 'end_sec', 'end_seconds', 'end_time',
            'end time', 'stop_time', 'stop time', 'to', 'offset', 't_end'),
    'label': ('label', 'behavior', 'behaviour', 'type', 'class', 'action', 'event'),
    'rater': ('rater', 'experimenter', 'annotator', 'observer', 'scorer', 'coder'),
    'recording': ('dlcfile', 'dlc_file', 'pose_file', 'video', 'video_file', 'videofile',
                  'media file', 'media', 'recording', 'file', 'filename'),
}
_POSE_FILE_COLUMNS = ('dlcfile', 'dlc_file', 'pose_file')   # recording columns that name a pose file
_FRAME_COLUMNS = ('', 'frame', 'frames', 'frame_index', 'frame_idx', 'frame_number', 'frameindex',
                  'index', 'unnamed: 0')
_LABEL_COLUMNS = ('label', 'labels', 'behavior', 'behaviour', 'class', 'action', 'annotation')
_POSE_COLUMN = re.compile(r'_(x|y|p|likelihood)$', re.IGNORECASE)
_NO_MEDIA = {'', 'na', 'nan', 'live', 'live observation', 'not found', 'none'}
_NO_SUBJECT = {'', 'no focal subject', 'na', 'nan'}
_EPS = 1e-9
_SEPARATORS = '_-. '
# Trailing words that name the role of a file rather than the recording (see match_annotations).
_POSE_ROLE_WORDS = ('tracking', 'tracks', 'pose', 'poses', 'filtered', 'keypoints', 'dlc', 'sleap')
_ANNOTATION_ROLE_WORDS = ('annot', 'annots', 'annotation', 'annotations', 'label', 'labels', 'boris',
                          'export', 'per_frame', 'perframe', 'frames', 'ethogram', 'behavior',
                          'behaviors', 'behaviour', 'behaviours', 'targets', 'manual', 'scoring',
                          'scored', 'bouts')
_KNOWN_EXTENSIONS = set(dlc_io.VIDEO_EXTENSIONS) | set(dlc_io.POSE_EXTENSIONS) | {
    '.txt', '.tsv', '.json', '.mat', '.seq', '.annot', '.boris', '.xlsx'}


@dataclass(frozen=True)
class Bout:
    """One labelled run of frames: ``start`` and ``end`` 0-based, ``end`` inclusive."""
    start: int
    end: int
    label: str
    subject: str | None = None   # BORIS Subject, or None


@dataclass
class Annotation:
    """The bouts of one recording, as read from one annotation file.

    Attributes:
        source: the annotation file path.
        recording: name of the recording the bouts belong to, for matching to pose files (a
            video/pose stem: BORIS media file stem, DLC prefix of a ``DLCFile`` cell, pose file stem
            of a bouts-frames ``file`` cell, else the annotation file's stem).
        bouts: sorted by (start, end, label).
        fps: frame rate used to turn seconds into frames (found in the file or given); for
            frame-based formats the ``fps`` given to the reader, else None.
        fmt: detected format (a key of ``FORMATS``).
        num_frames: frames the annotation covers when the format says (per-frame rows, Caltech
            stream length, BORIS media length * fps), else None.
        stream: Caltech stream (``S1``, ...) or rater chosen, else None.
        notes: human-readable remarks made while reading (e.g. ``POINT events: 3 (one frame each)``).
        pose_file: the pose file the annotation names, when it names one (bouts-frames ``file``,
            resolved against the CSV's folder; a ``DLCFile`` cell, resolved the same way), else None.
    """
    source: str
    recording: str
    bouts: list[Bout]
    fps: float | None
    fmt: str
    num_frames: int | None = None
    stream: str | None = None
    notes: list[str] = field(default_factory=list)
    pose_file: str | None = None

    @property
    def labels(self) -> list[str]:
        """The distinct bout labels, in order of first appearance."""
        return list(dict.fromkeys(b.label for b in self.bouts))


# ------------------------------------------------------------------ time and frames
def time_to_frames(t0: float, t1: float, fps: float) -> tuple[int, int]:
    """The frames (start, end inclusive) of a bout from ``t0`` to ``t1`` seconds.

    Frame ``f`` belongs to the bout when its middle ``(f + 0.5) / fps`` lies in ``[t0, t1)``. A
    bout holding no frame middle is its start frame alone (``end == start``), so ``t0 == t1`` (a
    point event) gives the frame whose start is nearest to ``t0``.
    """
    start, end, _ = _time_span(t0, t1, fps)
    return start, end


def _time_span(t0: float, t1: float, fps: float) -> tuple[int, int, bool]:
    """:func:`time_to_frames` plus whether a bout of positive length held no frame middle."""
    start = math.ceil(t0 * fps - 0.5 - _EPS)
    end = math.ceil(t1 * fps - 0.5 - _EPS) - 1
    return start, max(start, end), t1 > t0 and end < start


def seconds_or_frames(text: str | int | float, fps: float | None, what: str = 'value') -> int:
    """A number of frames from an option such as ``--clip_len``: ``300`` (frames) or ``2s`` (seconds).

    Args:
        text: a whole number of frames, or a number followed by ``s`` (seconds).
        fps: frames per second, needed for seconds.
        what: the option's name, for error messages.

    Raises:
        ValueError: not a number, a negative or fractional frame count, or seconds without fps.
    """
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f'{what}: {text} frames is negative; give 0 or more frames')
        return int(text)
    raw = str(text)
    match = re.fullmatch(r'\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|secs|seconds?)?\s*', raw, re.IGNORECASE)
    if match is None:
        raise ValueError(f'{what}: {raw!r} is not a duration; give a whole number of frames (e.g. 300) '
                         'or seconds with an s (e.g. 2s or 1.5s)')
    number = float(match.group(1))
    if match.group(2) is None:
        if number != int(number):
            raise ValueError(f'{what}: {raw!r} is not a whole number of frames; give frames as an '
                             'integer (e.g. 300) or seconds with an s (e.g. 2.5s)')
        return int(number)
    if fps is None:
        raise ValueError(f'{what}: {raw!r} is in seconds, which needs the frame rate; give fps or a '
                         'number of frames instead')
    if not fps > 0:
        raise ValueError(f'{what}: fps must be positive to convert {raw!r} to frames, got {fps}')
    return int(round(number * fps))


def _parse_seconds(text: str) -> float:
    """Seconds from ``12.5`` or ``hh:mm:ss.sss`` / ``mm:ss.sss``; ValueError otherwise."""
    text = text.strip()
    if ':' in text:
        parts = [float(p) for p in text.split(':')]
        if len(parts) > 3:
            raise ValueError(text)
        value = 0.0
        for part in parts:
            value = value * 60 + part
        return value
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _check_fps(fps: float | None, where: str) -> float | None:
    if fps is None:
        return None
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise ValueError(f'{where}: fps must be a positive number of frames per second, got {fps!r}') from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f'{where}: fps must be a positive number of frames per second, got {fps!r}')
    return value


# ------------------------------------------------------------------ names
def _stem(name: str) -> str:
    """A file name without folders (either slash) and without a known extension."""
    base = re.split(r'[\\/]', name.strip())[-1]
    root, ext = os.path.splitext(base)
    return root if ext.lower() in _KNOWN_EXTENSIONS and root else base


def _strip_words(name: str, words: Sequence[str]) -> list[str]:
    """``name`` and each shorter name left by removing trailing ``words`` (after a separator), in turn."""
    variants = [name]
    lowered = [w.lower() for w in words if w]
    changed = True
    while changed:
        changed = False
        current = variants[-1]
        low = current.lower()
        for word in sorted(lowered, key=len, reverse=True):
            cut = len(current) - len(word)
            if cut > 1 and low.endswith(word) and current[cut - 1] in _SEPARATORS:
                variants.append(current[:cut - 1])
                changed = True
                break
    return variants


def _pose_names(path: str) -> list[str]:
    stem = _stem(path)
    names = [stem] + _strip_words(dlc_io.video_name_for(stem), _POSE_ROLE_WORDS)
    return list(dict.fromkeys(n.casefold() for n in names if n))


def _annotation_names(ann: Annotation) -> list[str]:
    words = list(_ANNOTATION_ROLE_WORDS) + [label.replace(' ', '_') for label in ann.labels]
    stem = _stem(ann.recording)
    names = _strip_words(dlc_io.video_name_for(stem), words)
    return list(dict.fromkeys(n.casefold() for n in [stem] + names if n))


def _token_prefix(short: str, long: str) -> bool:
    return len(long) > len(short) and long.startswith(short) and long[len(short)] in _SEPARATORS


# ------------------------------------------------------------------ file text and tables
def _read_text(path: str) -> str:
    if not os.path.exists(path):
        raise FileNotFoundError(f'{path}: no such annotations file')
    if os.path.isdir(path):
        raise ValueError(f'{path}: is a folder, expected an annotations file')
    with open(path, 'rb') as handle:
        data = handle.read()
    if data.startswith(dlc_io.HDF5_SIGNATURE):
        raise ValueError(f'{path}: is an HDF5 file (a pose file?), not a behaviour annotation file; '
                         f'recognised: {_format_list()}')
    if b'\x00' in data[:65536]:
        raise ValueError(f'{path}: is a binary file, not a behaviour annotation file; recognised: '
                         f'{_format_list()}')
    try:
        return data.decode('utf-8-sig')
    except UnicodeDecodeError:
        logger.debug('%s: not UTF-8, read as Latin-1', path)
        return data.decode('latin-1')


def _format_list() -> str:
    return '; '.join(FORMATS.values())


def _delimiter(text: str) -> str:
    """Tab, comma or semicolon: the most frequent one on the first non-blank line (tab on ties)."""
    for line in text.splitlines():
        if line.strip():
            counts = {d: line.count(d) for d in ('\t', ',', ';')}
            best = max(counts, key=lambda d: (counts[d], d == '\t'))
            return best if counts[best] else ','
    return ','


def _rows(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """(line number, stripped cells) of every row that has a non-empty cell."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    try:
        for cells in reader:
            cells = [c.strip() for c in cells]
            if any(cells):
                rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise ValueError(f'line {reader.line_num}: cannot parse the table: {exc}') from None
    return rows


def _column(header: Sequence[str], *names: str) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def _cell(cells: Sequence[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ''


def _boris_header(rows: list[tuple[int, list[str]]]) -> tuple[str, int] | None:
    """('boris-events' | 'boris-aggregated', row index) of a BORIS table header, if any."""
    for i, (_, cells) in enumerate(rows[:400]):
        names = {c.lower() for c in cells}
        if not names & {'behavior', 'behaviour'}:
            continue
        if {'start (s)', 'stop (s)'} <= names:
            return 'boris-aggregated', i
        if 'time' in names and names & {'status', 'behavior type', 'behaviour type'}:
            return 'boris-events', i
    return None


# ------------------------------------------------------------------ detection and reading
def detect_format(path: str | os.PathLike) -> str:
    """The format of an annotation file (a key of ``FORMATS``), from its content.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the content matches no recognised format (the message lists them).
    """
    path = os.fspath(path)
    return _detect(path, _read_text(path))[0]


def _detect(path: str, text: str) -> tuple[str, dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError(f'{path}: file is empty (expected behaviour annotations: {_format_list()})')
    if lines[0].strip().lower().startswith('caltech behavior annotator'):
        return 'caltech', {}
    delimiter = _delimiter(text)
    try:
        rows = _rows(text, delimiter)
    except ValueError as exc:
        raise ValueError(f'{path}: {exc}') from None
    found = _boris_header(rows)
    if found is not None:
        return found[0], {'rows': rows, 'header': found[1]}
    header = [c.lower() for c in rows[0][1]]
    if 'scorer' in header[:2]:
        raise ValueError(f'{path}: is a DeepLabCut pose file (scorer/bodyparts/coords header), not '
                         f'behaviour annotations; recognised: {_format_list()}')
    seconds = {key: _column(header, *names) for key, names in SECONDS_COLUMNS.items()}
    if {'start_frame', 'end_frame'} <= set(header) or (
            'file' in header and (seconds['start'] is None or seconds['end'] is None)):
        return 'bouts-frames', {'rows': rows}
    if None not in (seconds['start'], seconds['end'], seconds['label']):
        return 'bouts-seconds', {'rows': rows, 'columns': seconds}
    table = _frame_table(path, text, delimiter, rows[0][0])
    if table is not None:
        return table['fmt'], table
    first = lines[0].strip()
    raise ValueError(f'{path}: not a recognised behaviour annotation format (first line: '
                     f'{first[:80]!r}); recognised: {_format_list()}')


def read_annotations(path: str | os.PathLike, fps: float | None = None, stream: str | int | None = None,
                     rater: str | None = None) -> list[Annotation]:
    """Read an annotation file of any recognised format (detected from its content).

    Args:
        path: the annotation file.
        fps: frames per second, for formats in seconds that do not give it (bouts in seconds,
            BORIS without an FPS value). A BORIS FPS value wins over it (a note says so when they
            differ). Kept as ``Annotation.fps`` for frame-based formats.
        stream: Caltech stream to read (``'S2'``, ``'2'`` or ``2``; default the first).
        rater: for bouts in seconds with a rater column: the rater whose bouts to read (required
            when there are several).

    Returns:
        One Annotation per recording the file describes (several for a bouts CSV naming several
        files or a BORIS export of several observations/media files), in order of appearance.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown format, missing frame rate, malformed rows, end before start, unknown
            stream/rater; the message names the file (and line) and what is allowed.
    """
    path = os.fspath(path)
    fps = _check_fps(fps, path)
    text = _read_text(path)
    fmt, info = _detect(path, text)
    if fmt == 'caltech':
        annotations = [_read_caltech(path, text, stream)]
    elif fmt in ('boris-events', 'boris-aggregated'):
        annotations = _read_boris(path, fmt, info['rows'], info['header'], fps)
    elif fmt == 'bouts-frames':
        annotations = _read_frame_bouts(path, info['rows'], None, require_file=False)
    elif fmt == 'bouts-seconds':
        annotations = _read_seconds_bouts(path, info['rows'], info['columns'], fps, rater)
    else:
        annotations = [_read_frame_table(path, info)]
    for ann in annotations:
        if fmt not in ('caltech',) and stream is not None:
            ann.notes.append(f'stream={stream!r} ignored: only Caltech files have streams')
        if fmt != 'bouts-seconds' and rater is not None:
            ann.notes.append(f'rater={rater!r} ignored: the file has no rater column')
        if ann.fps is None and fps is not None:
            ann.fps = fps
        logger.debug('%s: %s, recording %s: %d bouts%s', path, fmt, ann.recording, len(ann.bouts),
                      ''.join(f'; {n}' for n in ann.notes))
    return annotations


def _sorted(bouts: list[Bout]) -> list[Bout]:
    return sorted(bouts, key=lambda b: (b.start, b.end, b.label, b.subject or ''))


# ------------------------------------------------------------------ BORIS
def _player1(cell: str) -> list[str]:
    """Media files of player #1 in a BORIS ``Source`` cell (``player #1:a.mp4;b.mp4|player #2:...``)."""
    first = cell.split('|')[0]
    first = re.sub(r'^\s*player\s*#\s*1\s*:', '', first, flags=re.IGNORECASE)
    return [m.strip() for m in first.split(';') if m.strip()]


def _numbers(cell: str) -> list[float | None]:
    """Numbers of a BORIS cell that may list one per media file (``30.000;25.000|29.970``)."""
    values: list[float | None] = []
    for part in cell.split('|')[0].split(';'):
        try:
            values.append(float(part))
        except ValueError:
            values.append(None)
    return values


def _read_boris(path: str, fmt: str, rows: list[tuple[int, list[str]]], header_index: int,
                fps: float | None) -> list[Annotation]:
    """BORIS tabular event or aggregated export: one Annotation per (observation, media file)."""
    meta: dict[str, str] = {}
    players: list[str] = []
    for _, cells in rows[:header_index]:
        key, value = cells[0].strip(), _cell(cells, 1).strip()
        if re.match(r'player\s*#\s*1\b', key, re.IGNORECASE):
            if value:
                players.append(value)
        elif key:
            meta.setdefault(key.lower(), value)
    header_line, header = rows[header_index]
    col = {
        'time': _column(header, 'time'),
        'start': _column(header, 'start (s)'),
        'stop': _column(header, 'stop (s)'),
        'status': _column(header, 'status', 'behavior type', 'behaviour type'),
        'behavior': _column(header, 'behavior', 'behaviour'),
        'subject': _column(header, 'subject'),
        'media': _column(header, 'media file path', 'media file name', 'media file'),
        'source': _column(header, 'source'),
        'fps': _column(header, 'fps'),
        'length': _column(header, 'total length', 'media duration (s)', 'media duration'),
        'offset': _column(header, 'time offset (s)'),
        'obs': _column(header, 'observation id'),
    }
    events: list[dict[str, Any]] = []   # one dict per table row, in file order
    for line, cells in rows[header_index + 1:]:
        where = f'{path}: line {line}'
        obs = _cell(cells, col['obs']) or meta.get('observation id', '')
        media = _cell(cells, col['media'])
        if media.lower() in _NO_MEDIA:
            sources = _player1(_cell(cells, col['source'])) if col['source'] is not None else players
            media = sources[0] if len(sources) == 1 else ''
        if media.lower() in _NO_MEDIA:
            media = ''
        behavior = _cell(cells, col['behavior'])
        if not behavior:
            raise ValueError(f'{where}: empty Behavior cell')
        subject = _cell(cells, col['subject'])
        subject = None if subject.lower() in _NO_SUBJECT else subject
        status = _cell(cells, col['status']).upper() if col['status'] is not None else 'STATE'
        allowed = ('START', 'STOP', 'POINT') if fmt == 'boris-events' else ('STATE', 'POINT')
        if status not in allowed:
            raise ValueError(f'{where}: {header[col["status"]]} {status!r} is not {" or ".join(allowed)}')
        keys = ('time',) if fmt == 'boris-events' else ('start', 'stop')
        texts = [_cell(cells, col[k]) for k in keys]
        if status == 'POINT' and len(texts) == 2 and texts[1].upper() in ('', 'NA'):
            texts[1] = texts[0]                   # aggregated POINT rows may leave Stop empty
        try:
            times = tuple(_parse_seconds(t) for t in texts)
        except ValueError:
            names = '/'.join(header[col[k]] for k in keys)
            raise ValueError(f'{where}: {names} must be seconds, got '
                             f'{", ".join(repr(t) for t in texts)}') from None
        offset_text = _cell(cells, col['offset']) or meta.get('time offset (s)', '')
        try:
            offset = float(offset_text) if offset_text and offset_text.upper() != 'NA' else 0.0
        except ValueError:
            raise ValueError(f'{where}: Time offset (s) must be seconds, got {offset_text!r}') from None
        events.append({'line': line, 'obs': obs, 'media': media, 'behavior': behavior,
                       'subject': subject, 'status': status, 'times': times, 'offset': offset,
                       'fps': _cell(cells, col['fps']), 'length': _cell(cells, col['length']),
                       'source': _cell(cells, col['source'])})
    if not events:
        raise ValueError(f'{path}: BORIS export with a header row at line {header_line} but no events')

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for event in events:
        groups.setdefault((event['obs'], event['media']), []).append(event)
    media_by_obs: dict[str, list[str]] = {}
    for obs, media in groups:
        media_by_obs.setdefault(obs, []).append(media)

    annotations = []
    for (obs, media), group in groups.items():
        media_start, media_index, length = _media_position(path, obs, media, media_by_obs[obs], group, players)
        notes: list[str] = []
        group_fps = None
        for event in group:
            values = _numbers(event['fps']) if event['fps'] else []
            if media_index < len(values):
                value = values[media_index]
            else:
                value = values[0] if len(values) == 1 else None
            if value is not None and value > 0:
                group_fps = value
                break
        name = media or obs or _stem(path)
        if group_fps is None:
            if fps is None:
                raise ValueError(f'{path}: no frame rate for {name}: the FPS column is missing, empty '
                                 'or NA; give fps (the video\'s frames per second)')
            group_fps = fps
            notes.append(f'fps {fps:g} given (the file has no FPS)')
        elif fps is not None and abs(fps - group_fps) > 1e-6:
            notes.append(f'FPS {group_fps:g} from the file used; fps={fps:g} given was ignored')
        offset = group[0]['offset']
        if offset:
            notes.append(f'time offset {offset:g} s subtracted')
        if media_start:
            notes.append(f'media file starts at {media_start:g} s of the observation')
        bouts, counts = _boris_bouts(path, group, group_fps, offset + media_start)
        if counts['point']:
            notes.append(f'POINT events: {counts["point"]} (one frame each)')
        if counts['short']:
            notes.append(f'bouts shorter than a frame kept as one frame: {counts["short"]}')
        subjects = sorted({b.subject for b in bouts if b.subject})
        if subjects:
            notes.append(f'subjects: {", ".join(subjects)}')
        num_frames = int(round(length * group_fps)) if length else None
        annotations.append(Annotation(source=path, recording=_stem(media) if media else (obs or _stem(path)),
                                      bouts=_sorted(bouts), fps=group_fps, fmt=fmt,
                                      num_frames=num_frames, notes=notes))
    return annotations


def _media_position(path: str, obs: str, media: str, all_media: list[str], group: list[dict[str, Any]],
                    players: list[str]) -> tuple[float, int, float | None]:
    """(start of ``media`` on the observation's time line, its index in player #1, its duration).

    An observation playing several media files one after the other counts time from the start of
    the first; the starts come from the durations listed per media file (newer BORIS exports).
    """
    source = _player1(group[0]['source']) if group[0]['source'] else list(players)
    lengths = _numbers(group[0]['length']) if group[0]['length'] else []
    index = next((i for i, m in enumerate(source) if m == media or _stem(m) == _stem(media)), 0)
    length = lengths[index] if index < len(lengths) else (lengths[0] if len(lengths) == 1 else None)
    if len(all_media) == 1:
        if len(source) > 1 and len(lengths) == 1:
            length = None            # the total of several media files, not this one's length
        return 0.0, index, length
    if len(lengths) != len(source) or None in lengths or not all(
            any(m == s or _stem(m) == _stem(s) for s in source) for m in all_media):
        raise ValueError(f'{path}: observation {obs or "?"} spans {len(all_media)} media files '
                         f'({", ".join(_stem(m) for m in all_media)}) and the export does not give each '
                         'file\'s duration, so times cannot be placed in each file; export one '
                         'observation per media file')
    return float(sum(lengths[:index])), index, length


def _boris_bouts(path: str, group: list[dict[str, Any]], fps: float, shift: float
                 ) -> tuple[list[Bout], dict[str, int]]:
    """Bouts of one BORIS (observation, media) group; START/STOP paired per subject and behaviour."""
    counts = {'point': 0, 'short': 0}
    bouts: list[Bout] = []
    open_events: dict[tuple[str | None, str], tuple[float, int]] = {}

    def add(t0: float, t1: float, event: dict[str, Any], line0: int) -> None:
        a, b = t0 - shift, t1 - shift
        if a < -1e-6:
            raise ValueError(f'{path}: line {line0}: time {t0:g} s is before the media file starts '
                             f'(time offset and earlier media files: {shift:g} s)')
        start, end, short = _time_span(max(a, 0.0), max(b, 0.0), fps)
        counts['short'] += short
        bouts.append(Bout(start, end, event['behavior'], event['subject']))

    for event in group:
        line, key = event['line'], (event['subject'], event['behavior'])
        who = f'{event["behavior"]!r}' + (f' (subject {event["subject"]})' if event['subject'] else '')
        if event['status'] == 'POINT':
            counts['point'] += 1
            add(event['times'][0], event['times'][0], event, line)
        elif event['status'] == 'STATE':
            t0, t1 = event['times']
            if t1 < t0:
                raise ValueError(f'{path}: line {line}: bout of {who} ends before it starts '
                                 f'(Start {t0:g} s, Stop {t1:g} s)')
            add(t0, t1, event, line)
        elif event['status'] == 'START':
            if key in open_events:
                raise ValueError(f'{path}: line {line}: second START of {who} before the STOP of the '
                                 f'one at line {open_events[key][1]}')
            open_events[key] = (event['times'][0], line)
        else:
            if key not in open_events:
                raise ValueError(f'{path}: line {line}: STOP of {who} without a START before it')
            t0, line0 = open_events.pop(key)
            t1 = event['times'][0]
            if t1 < t0:
                raise ValueError(f'{path}: line {line}: STOP of {who} at {t1:g} s is before its START '
                                 f'at {t0:g} s (line {line0}): end before start')
            add(t0, t1, event, line0)
    if open_events:
        (_, behavior), (t0, line0) = next(iter(open_events.items()))
        raise ValueError(f'{path}: line {line0}: START of {behavior!r} at {t0:g} s has no STOP '
                         f'({len(open_events)} unpaired START event(s))')
    return bouts, counts


# ------------------------------------------------------------------ Caltech
def _read_caltech(path: str, text: str, stream: str | int | None) -> Annotation:
    """A Caltech Behavior Annotator ``.txt``: one stream's bouts, 1-based inclusive -> 0-based."""
    names: list[str] = []
    streams: dict[str, list[tuple[int, int, int, str]]] = {}
    current: str | None = None
    in_config = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            in_config = False            # a blank line ends the Configuration file block
            continue
        if line.lower().startswith('caltech behavior annotator'):
            continue
        if line.lower().startswith('configuration file'):
            in_config = True
            continue
        head = re.match(r'^S(\d+)\s*:\s*start\s+end\s+type$', line, re.IGNORECASE)
        if head:
            current = f'S{int(head.group(1))}'
            streams[current] = []
            in_config = False
            continue
        if re.fullmatch(r'-{3,}', line):
            continue
        if in_config and current is None:
            names.append(line.split()[0])
            continue
        bout = re.match(r'^(\d+)\s+(\d+)\s+(\S.*)$', line)
        if bout is None or current is None:
            raise ValueError(f'{path}: line {number}: expected a bout line "<start> <end> <label>" '
                             f'after a stream header "S1: start end type", got {line[:60]!r}')
        start, end, label = int(bout.group(1)), int(bout.group(2)), bout.group(3).strip()
        if start < 1 or end < start:
            raise ValueError(f'{path}: line {number}: need 1 <= start <= end (frames from 1, end '
                             f'inclusive), got {start}, {end}')
        if names and label not in names:
            raise ValueError(f'{path}: line {number}: behaviour {label!r} is not in the Configuration '
                             f'file block (it lists {", ".join(names)})')
        streams[current].append((number, start, end, label))
    if not streams:
        raise ValueError(f'{path}: Caltech annotation file without a stream (no "S1: start end type" line)')
    if stream is None:
        chosen = next(iter(streams))
    else:
        text_stream = str(stream).strip().upper()
        chosen = text_stream if text_stream.startswith('S') else f'S{text_stream}'
        if chosen not in streams:
            raise ValueError(f'{path}: no stream {stream!r}; the file has {", ".join(streams)}')
    rows = streams[chosen]
    bouts = [Bout(start - 1, end - 1, label) for _, start, end, label in rows]
    notes = [f'stream {chosen} of {", ".join(streams)}'] if len(streams) > 1 else []
    return Annotation(source=path, recording=_stem(path), bouts=_sorted(bouts), fps=None, fmt='caltech',
                      num_frames=max((b.end + 1 for b in bouts), default=None), stream=chosen,
                      notes=notes)


# ------------------------------------------------------------------ per-frame tables
def _frame_table(path: str, text: str, delimiter: str, header_line: int) -> dict[str, Any] | None:
    """Classify a one-row-per-frame table (per-frame, per-frame-binary, simba), or None."""
    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, skiprows=header_line - 1, header=0,
                            low_memory=False, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f'{path}: cannot parse the table: {exc}') from None
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        return None
    columns = [str(c) for c in frame.columns]
    lowered = [c.strip().lower() for c in columns]
    frame_col = 0 if lowered[0] in _FRAME_COLUMNS or lowered[0].startswith('unnamed: 0') else None
    label_col = next((i for i, c in enumerate(lowered) if c in _LABEL_COLUMNS and i != frame_col), None)
    info: dict[str, Any] = {'frame': frame, 'frame_col': frame_col, 'header_line': header_line}
    if label_col is not None:
        info.update(fmt='per-frame', label_col=label_col)
        return info
    binary, pose, other = [], [], []
    for i, name in enumerate(columns):
        if i == frame_col:
            continue
        if _POSE_COLUMN.search(name.strip()):
            pose.append(i)
            continue
        values = frame.iloc[:, i]
        if pd.api.types.is_numeric_dtype(values) and values.notna().all() and values.isin([0, 1]).all():
            binary.append(i)
        else:
            other.append(i)
    if not binary:
        return None
    info.update(fmt='simba' if pose or other else 'per-frame-binary', binary=binary, pose=len(pose),
                other=len(other))
    return info


def _frame_numbers(path: str, info: dict[str, Any]) -> tuple[int, list[str]]:
    """Check the frame column counts 0, 1, 2, ... (or 1, 2, 3, ...); (offset subtracted, notes)."""
    frame, col = info['frame'], info['frame_col']
    if col is None:
        return 0, []
    import pandas as pd

    column = frame.iloc[:, col]
    name = str(frame.columns[col])
    if not pd.api.types.is_numeric_dtype(column) or column.isna().any():
        return 0, [f'column {name!r} is not numeric: rows taken as frames 0, 1, 2, ...']
    values = column.to_numpy()
    first = int(values[0]) if len(values) else 0
    expected = np.arange(len(values)) + first
    if first not in (0, 1) or not np.array_equal(values, expected):
        bad = int(np.flatnonzero(values != expected)[0]) if first in (0, 1) else 0
        raise ValueError(f'{path}: line {info["header_line"] + 1 + bad}: frame column {name!r} must count '
                         f'0, 1, 2, ... one row per frame; found {values[bad]!r} at row {bad + 1}')
    return first, ([f'frame column {name!r} counts from 1: read as 1-based'] if first == 1 else [])


def _read_frame_table(path: str, info: dict[str, Any]) -> Annotation:
    """per-frame / per-frame-binary / simba: bouts from the runs of each label or 0/1 column."""
    import pandas as pd

    frame, fmt = info['frame'], info['fmt']
    _, notes = _frame_numbers(path, info)
    num_frames = int(frame.shape[0])
    if fmt == 'per-frame':
        values = frame.iloc[:, info['label_col']]
        if pd.api.types.is_numeric_dtype(values):
            numbers = values.to_numpy(dtype=float)
            finite = numbers[~np.isnan(numbers)]
            if np.any(finite != np.round(finite)):
                bad = int(np.flatnonzero(~np.isnan(numbers) & (numbers != np.round(numbers)))[0])
                raise ValueError(f'{path}: line {info["header_line"] + 1 + bad}: label {numbers[bad]!r} is '
                                 'neither a name nor a whole number')
            codes = np.where(np.isnan(numbers), -1, numbers).astype(np.int64)
            codes[codes < 0] = -1
            names = [str(v) for v in range(int(codes.max()) + 1 if codes.size and codes.max() >= 0 else 0)]
            notes.append('integer labels: the bout labels are the numbers; -1 or empty = unlabelled')
        else:
            text = values.astype(object).where(values.notna(), '').map(lambda v: str(v).strip())
            names = list(dict.fromkeys(v for v in text if v))
            lookup = {n: i for i, n in enumerate(names)}
            codes = np.array([lookup.get(v, -1) for v in text], dtype=np.int64)
        bouts = bouts_from_frames(codes, names)
    else:
        columns = info['binary']
        names = [str(frame.columns[i]).strip() for i in columns]
        matrix = frame.iloc[:, columns].to_numpy(dtype=np.int64)   # (T, K)
        bouts = bouts_from_frames(matrix, names)
        if fmt == 'simba':
            notes.append(f'behaviour columns: {", ".join(names)} (beside {info["pose"]} pose and '
                         f'{info["other"]} other columns)')
    return Annotation(source=path, recording=_stem(path), bouts=_sorted(bouts), fps=None, fmt=fmt,
                      num_frames=num_frames, notes=notes)


# ------------------------------------------------------------------ bouts tables
def read_bouts_csv(path: str | os.PathLike, base_dir: str | None = None) -> list[Annotation]:
    """Bouts from a ``file,start_frame,end_frame,label`` CSV (the ``tools/csv2json.py`` format).

    Frames are numbered from 0 (the rows of the pose file); ``end_frame`` is inclusive. ``file`` is
    taken relative to ``base_dir`` (default: the CSV's folder) unless absolute; each Annotation's
    ``pose_file`` is that normalised path and ``recording`` its stem. One Annotation per file, in
    order of first appearance. Does not detect the format: the four columns are required.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a missing column, a bad frame number, start after end, a label not usable as a
            class name, an empty ``file`` cell, or no bouts; the message names the file and line.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such annotations file')
    text = _read_text(path)
    try:
        rows = _rows(text, ',')
    except ValueError as exc:
        raise ValueError(f'{path}: {exc}') from None
    return _read_frame_bouts(path, rows, base_dir, require_file=True)


def _read_frame_bouts(path: str, rows: list[tuple[int, list[str]]], base_dir: str | None,
                      require_file: bool) -> list[Annotation]:
    base_dir = base_dir if base_dir is not None else os.path.dirname(os.path.abspath(path))
    fields = rows[0][1] if rows else []
    lowered = [f.lower() for f in fields]
    required = ['file', 'start_frame', 'end_frame', 'label']
    if not require_file and 'file' not in lowered:
        required = required[1:]
    missing = [c for c in required if c not in lowered]
    if missing:
        raise ValueError(f'{path}: missing column(s) {", ".join(missing)}; the header must be '
                         f'{",".join(required)} (found {",".join(fields) or "nothing"})')
    index = {name: lowered.index(name) for name in required}
    bouts: dict[str, list[Bout]] = {}
    for line, cells in rows[1:]:
        row = {name: _cell(cells, i) for name, i in index.items()}
        try:
            start, end = int(row['start_frame']), int(row['end_frame'])
        except ValueError:
            raise ValueError(f'{path}: line {line}: start_frame/end_frame must be whole frame '
                             f'numbers, got {row["start_frame"]!r}, {row["end_frame"]!r}') from None
        if start < 0 or end < start:
            raise ValueError(f'{path}: line {line}: need 0 <= start_frame <= end_frame, got '
                             f'{start}, {end}')
        label = kinetics_json.check_label(row['label'], f'{path} line {line}')
        if 'file' in row:
            file = row['file']
            if not file:
                raise ValueError(f'{path}: line {line}: empty "file" cell')
            key = os.path.normpath(file if os.path.isabs(file) else os.path.join(base_dir, file))
        else:
            key = ''
        bouts.setdefault(key, []).append(Bout(start, end, label))
    if not bouts:
        raise ValueError(f'{path}: lists no bouts')
    return [Annotation(source=path, recording=_stem(key) if key else _stem(path), bouts=_sorted(items),
                       fps=None, fmt='bouts-frames', pose_file=key or None)
            for key, items in bouts.items()]


def _read_seconds_bouts(path: str, rows: list[tuple[int, list[str]]], columns: dict[str, int | None],
                        fps: float | None, rater: str | None) -> list[Annotation]:
    """Bouts in seconds (``start_s,end_s,label``; Sturman ``,file,Experimenter,from,to,type,ID,DLCFile``)."""
    header = rows[0][1]
    if fps is None:
        raise ValueError(f'{path}: bouts are in seconds ({header[columns["start"]]}, '
                         f'{header[columns["end"]]}); give fps (the video\'s frames per second)')
    rater_col, rec_col = columns['rater'], columns['recording']
    data = rows[1:]
    notes: list[str] = []
    chosen = None
    if rater_col is not None:
        raters = list(dict.fromkeys(_cell(cells, rater_col) for _, cells in data))
        rater_name = header[rater_col]
        if rater is None:
            if len(raters) > 1:
                raise ValueError(f'{path}: {len(raters)} raters in column {rater_name!r}: '
                                 f'{", ".join(sorted(raters))}; choose one with --rater')
            chosen = raters[0] if raters else None
        elif rater not in raters:
            raise ValueError(f'{path}: no rater {rater!r} in column {rater_name!r}; it lists '
                             f'{", ".join(sorted(raters))}')
        else:
            chosen = rater
            data = [(line, cells) for line, cells in data if _cell(cells, rater_col) == rater]
            if len(raters) > 1:
                notes.append(f'rater {rater} (of {", ".join(sorted(raters))})')
    elif rater is not None:
        notes.append(f'rater={rater!r} ignored: the file has no rater column')
    groups: dict[str, list[Bout]] = {}
    pose_files: dict[str, str | None] = {}
    short = 0
    for line, cells in data:
        try:
            t0 = _parse_seconds(_cell(cells, columns['start']))
            t1 = _parse_seconds(_cell(cells, columns['end']))
        except ValueError:
            raise ValueError(f'{path}: line {line}: start/end must be seconds, got '
                             f'{_cell(cells, columns["start"])!r}, {_cell(cells, columns["end"])!r}') from None
        if t1 < t0:
            raise ValueError(f'{path}: line {line}: end before start: {t0:g} s to {t1:g} s')
        if t0 < 0:
            raise ValueError(f'{path}: line {line}: start {t0:g} s is negative; times count from the '
                             'start of the video')
        label = _cell(cells, columns['label'])
        if not label:
            raise ValueError(f'{path}: line {line}: empty {header[columns["label"]]!r} cell')
        value = _cell(cells, rec_col)
        recording = dlc_io.video_name_for(_stem(value)) if value else _stem(path)
        if value and header[rec_col].lower() in _POSE_FILE_COLUMNS:
            folder = os.path.dirname(os.path.abspath(path))
            pose_files[recording] = os.path.normpath(os.path.join(folder, value))   # join keeps an absolute value
        else:
            pose_files.setdefault(recording, None)
        start, end, is_short = _time_span(t0, t1, fps)
        short += is_short
        groups.setdefault(recording, []).append(Bout(start, end, label))
    if short:
        notes.append(f'bouts shorter than a frame kept as one frame: {short}')
    if not groups:
        raise ValueError(f'{path}: lists no bouts')
    return [Annotation(source=path, recording=rec, bouts=_sorted(items), fps=fps, fmt='bouts-seconds',
                       stream=chosen, notes=list(notes), pose_file=pose_files[rec])
            for rec, items in groups.items()]


# ------------------------------------------------------------------ labels per frame
def bouts_from_frames(labels: np.ndarray, names: Sequence[str]) -> list[Bout]:
    """Bouts from per-frame labels: the runs of equal values.

    Args:
        labels: int (T,) indices into ``names``, -1 where unlabelled (skipped); or 0/1 (T, K), one
            column per name, each column's runs of 1 becoming bouts (they may overlap).
        names: the label names.

    Returns:
        Bouts sorted by (start, end, label).

    Raises:
        ValueError: a value outside -1..len(names)-1, a (T, K) array whose K is not len(names), or
            an array of another rank.
    """
    array = np.asarray(labels)
    names = [str(n) for n in names]
    if array.ndim == 2:
        if array.shape[1] != len(names):
            raise ValueError(f'bouts_from_frames: labels has {array.shape[1]} columns but {len(names)} '
                             'names were given')
        bouts = []
        for k, name in enumerate(names):
            on = np.concatenate([[0], (array[:, k] != 0).astype(np.int8), [0]])
            edges = np.diff(on)
            starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
            bouts.extend(Bout(int(s), int(e), name) for s, e in zip(starts, ends))
        return _sorted(bouts)
    if array.ndim != 1:
        raise ValueError(f'bouts_from_frames: labels must be (T,) or (T, K), got shape {array.shape}')
    if array.size == 0:
        return []
    array = array.astype(np.int64)
    if array.min() < -1 or array.max() >= len(names):
        raise ValueError(f'bouts_from_frames: label values must lie in -1..{len(names) - 1} '
                         f'(indices into {len(names)} names), got {array.min()}..{array.max()}')
    change = np.flatnonzero(np.diff(array)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change - 1, [array.size - 1]])
    return [Bout(int(s), int(e), names[array[s]]) for s, e in zip(starts, ends) if array[s] >= 0]


def frame_labels(annotation: Annotation, num_frames: int, classes: Sequence[str],
                 background: str | None = None, priority: Sequence[str] | None = None
                 ) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-frame class indices of a recording from its bouts.

    Rules:
        * A frame covered by bouts of one class gets that class's index in ``classes``.
        * A frame covered by bouts of several classes gets the class that comes first in
          ``priority`` (default: ``classes`` order; classes not listed rank after the listed ones,
          in ``classes`` order). Subjects are not told apart.
        * A frame covered only by bouts whose label is not in ``classes`` is -1 (it is labelled,
          with something the caller does not want: it does not become ``background``).
        * A frame covered by no bout is ``background``'s index when given, else -1.
        * Bouts past the last frame are clipped; bouts starting after it are dropped.

    Args:
        annotation: the recording's bouts.
        num_frames: frames of the recording (e.g. the pose file's rows).
        classes: class names; index i in the result means ``classes[i]``.
        background: a name in ``classes`` for frames no bout covers.
        priority: names in ``classes``, first wins in overlaps.

    Returns:
        (labels, report): int64 (num_frames,) class indices, -1 where no class applies; report
        counts ``clipped_frames`` (bout frames past the last frame), ``dropped_bouts`` (bouts
        starting after it), ``overlap_frames`` (frames where several classes met and ``priority``
        decided), ``unknown_labels`` ({label: frames} for labels not in ``classes``) and
        ``background_frames``.

    Raises:
        ValueError: negative num_frames, empty or repeated classes, background or priority names
            not in classes.
    """
    if int(num_frames) != num_frames or num_frames < 0:
        raise ValueError(f'{annotation.source}: num_frames must be 0 or more whole frames, got {num_frames}')
    num_frames = int(num_frames)
    classes = [str(c) for c in classes]
    if not classes:
        raise ValueError(f'{annotation.source}: frame_labels needs at least one class name')
    repeated = sorted({c for c in classes if classes.count(c) > 1})
    if repeated:
        raise ValueError(f'{annotation.source}: classes repeat {", ".join(repeated)}')
    index = {name: i for i, name in enumerate(classes)}
    if background is not None and background not in index:
        raise ValueError(f'{annotation.source}: background {background!r} is not one of the classes '
                         f'({", ".join(classes)})')
    order = list(priority) if priority is not None else []
    unknown_priority = [p for p in order if p not in index]
    if unknown_priority:
        raise ValueError(f'{annotation.source}: priority names {", ".join(map(repr, unknown_priority))} '
                         f'are not classes ({", ".join(classes)})')
    order = list(dict.fromkeys(order + classes))

    covered = np.zeros(num_frames, dtype=bool)
    per_class: dict[str, np.ndarray] = {}
    unknown: dict[str, np.ndarray] = {}
    clipped = dropped = 0
    for bout in annotation.bouts:
        if bout.start >= num_frames:
            dropped += 1
            clipped += bout.end - bout.start + 1
            continue
        end = min(bout.end, num_frames - 1)
        clipped += bout.end - end
        covered[bout.start:end + 1] = True
        target = per_class if bout.label in index else unknown
        mask = target.setdefault(bout.label, np.zeros(num_frames, dtype=bool))
        mask[bout.start:end + 1] = True
    labels = np.full(num_frames, -1, dtype=np.int64)
    overlap = 0
    if per_class:
        overlap = int((np.sum(list(per_class.values()), axis=0) >= 2).sum())
    for name in reversed(order):            # the first in priority order is written last and wins
        if name in per_class:
            labels[per_class[name]] = index[name]
    background_frames = 0
    if background is not None:
        background_frames = int((~covered).sum())
        labels[~covered] = index[background]
    report = {'clipped_frames': int(clipped), 'dropped_bouts': int(dropped), 'overlap_frames': overlap,
              'unknown_labels': {name: int(mask.sum()) for name, mask in unknown.items()},
              'background_frames': background_frames}
    return labels, report


def describe_report(report: dict[str, Any]) -> str:
    """The notable counts of a :func:`frame_labels` report as one phrase ('' when there is nothing to say):
    frames clipped past the end, bouts dropped, overlaps resolved by priority, labels left out."""
    parts = []
    if report.get('clipped_frames'):
        parts.append(f'{report["clipped_frames"]} labelled frame(s) past the last frame clipped')
    if report.get('dropped_bouts'):
        parts.append(f'{report["dropped_bouts"]} bout(s) starting after the last frame dropped')
    if report.get('overlap_frames'):
        parts.append(f'{report["overlap_frames"]} frame(s) where bouts of several classes overlap given to the '
                     'class listed first')
    unknown = report.get('unknown_labels') or {}
    if unknown:
        shown = ', '.join(f'{label} ({frames} frames)' for label, frames in sorted(unknown.items()))
        parts.append(f'labels not among the classes left out: {shown}')
    return '; '.join(parts)


def check_bouts(annotation: Annotation, num_frames: int) -> list[str]:
    """Problems of an annotation against a recording of ``num_frames`` frames, one line each.

    Reports bouts past the recording's last frame (with the frames clipped), and overlapping bouts
    within one stream where they make no sense: any two bouts of a Caltech stream (it labels each
    frame once), and bouts of the same label (and subject) in bout formats (BORIS, bouts in
    seconds or frames), which are duplicated or mistyped rows. Each line names the file.
    """
    if int(num_frames) != num_frames or num_frames < 0:
        raise ValueError(f'{annotation.source}: num_frames must be 0 or more whole frames, got {num_frames}')
    where = f'{annotation.source}: {annotation.recording}'
    if annotation.stream:
        where += f' ({annotation.stream})'
    problems = []
    last = int(num_frames) - 1
    past = [b for b in annotation.bouts if b.end > last]
    if past:
        clipped = sum(b.end - max(b.start, last + 1) + 1 for b in past)
        first = past[0]
        problems.append(f'{where}: {len(past)} bout(s) run past the recording\'s last frame {last} '
                        f'({clipped} frames clipped; first: {first.label} {first.start}-{first.end})')
    if annotation.fmt == 'caltech':
        groups = {None: list(annotation.bouts)}
        rule = 'a Caltech stream labels each frame once'
    elif annotation.fmt in ('boris-events', 'boris-aggregated', 'bouts-seconds', 'bouts-frames'):
        groups = {}
        for bout in annotation.bouts:
            groups.setdefault((bout.subject, bout.label), []).append(bout)
        rule = 'the same behaviour overlaps itself'
    else:
        groups = {}
        rule = ''
    for bouts in groups.values():
        holder: Bout | None = None
        for bout in sorted(bouts, key=lambda b: (b.start, b.end)):
            if holder is not None and bout.start <= holder.end:
                frames = min(bout.end, holder.end) - bout.start + 1
                problems.append(f'{where}: bouts {holder.label} {holder.start}-{holder.end} and '
                                f'{bout.label} {bout.start}-{bout.end} overlap by {frames} frames ({rule})')
            if holder is None or bout.end > holder.end:
                holder = bout
    return problems


# ------------------------------------------------------------------ matching recordings
def match_annotations(pose_files: list[str], annotations: list[Annotation]
                      ) -> tuple[list[tuple[str, Annotation]], list[str]]:
    """Pair pose files with the annotations of their recordings, by name.

    Names are compared without case, folders and extension, in these forms:
        * pose file: its stem, the stem before DLC's ``DLC_``/``DeepCut_`` suffix
          (:func:`feeder.dlc_io.video_name_for`), and that without trailing role words
          (``_tracking``, ``_pose``, ``_filtered``, ...);
        * annotation: its ``recording`` (BORIS media stem, DLC prefix of a DLCFile cell, or the
          annotation file's stem), and that without trailing role words (``_annot``,
          ``_annotations``, ``_labels``, ``.boris``, ``_boris``, ``_export``, ``_per_frame``, ...)
          and without trailing names of the behaviours it labels (``demo1_freezing_per_frame``
          -> ``demo1``).
    A pair matches exactly when two forms are equal; failing that, when one form is the other's
    leading part up to a separator (``demo1`` and ``demo1_tracking``; not ``demo1`` and
    ``demo10``). Each annotation takes its exact matches, else its leading-part matches; a pose
    file claimed by several annotations keeps the exact ones. One pose file with one annotation
    pair directly whatever their names.

    Returns:
        (pairs, problems): (pose file, annotation) pairs in pose-file order; one line per problem:
        an annotation matching no pose file, a pose file without annotation, an ambiguous match
        (left unpaired).
    """
    if len(pose_files) == 1 and len(annotations) == 1:
        return [(pose_files[0], annotations[0])], []
    pose_names = [_pose_names(p) for p in pose_files]
    problems: list[str] = []
    claims: dict[int, list[tuple[int, int]]] = {}   # pose index -> [(annotation index, tier)]
    for a, ann in enumerate(annotations):
        names = _annotation_names(ann)
        tiers: dict[int, int] = {}
        for p, pnames in enumerate(pose_names):
            if set(names) & set(pnames):
                tiers[p] = 0
            elif any(_token_prefix(x, y) or _token_prefix(y, x) for x in names for y in pnames):
                tiers[p] = 1
        best = min(tiers.values(), default=None)
        chosen = [p for p, t in tiers.items() if t == best]
        if not chosen:
            problems.append(f'{ann.source}: recording {ann.recording!r} matches no pose file'
                            + (f' (pose files: {", ".join(_stem(p) for p in pose_files[:6])}'
                               f'{", ..." if len(pose_files) > 6 else ""})' if pose_files else ''))
        elif len(chosen) > 1:
            names = ', '.join(os.path.basename(pose_files[p]) for p in chosen)
            problems.append(f'{ann.source}: recording {ann.recording!r} is ambiguous: it matches '
                            f'{len(chosen)} pose files ({names}); left unpaired')
        else:
            claims.setdefault(chosen[0], []).append((a, best))
    pairs = []
    for p, path in enumerate(pose_files):
        found = claims.get(p, [])
        best = min((t for _, t in found), default=None)
        kept = [a for a, t in found if t == best]
        if not kept:
            problems.append(f'{path}: no annotation matches this recording')
        elif len(kept) > 1:
            problems.append(f'{path}: ambiguous: {len(kept)} annotations match this recording ('
                            + ', '.join(f'{annotations[a].source} [{annotations[a].recording}]' for a in kept)
                            + '); left unpaired')
        else:
            pairs.append((path, annotations[kept[0]]))
    return pairs, problems


def is_pose_file(path: str) -> bool:
    """Whether a file is a pose file rather than annotations: HDF5, or a CSV whose first row starts with DLC's
    ``scorer`` (in its first or, re-saved by pandas, second cell)."""
    with open(path, 'rb') as handle:
        head = handle.read(4096)
    if head.startswith(dlc_io.HDF5_SIGNATURE):
        return True
    first = head.decode('utf-8', errors='replace').lstrip('\ufeff').splitlines()[0] if head.strip() else ''
    return 'scorer' in [cell.strip().lower() for cell in first.split(',')[:2]]


def annotation_files(paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the files named in ``paths``, the files found in its folders): not recursive; hidden files, videos and pose
    files in folders skipped (recordings and their labels often share a folder)."""
    named: list[str] = []
    found: list[str] = []
    for item in paths:
        if os.path.isdir(item):
            found.extend(sorted(
                os.path.join(item, f) for f in os.listdir(item)
                if not f.startswith('.') and os.path.isfile(os.path.join(item, f))
                and os.path.splitext(f)[1].lower() not in dlc_io.VIDEO_EXTENSIONS
                and not is_pose_file(os.path.join(item, f))))
        elif not os.path.exists(item):
            raise FileNotFoundError(f'{item}: no such annotations file or folder (--annotations)')
        else:
            named.append(item)
    if not named and not found:
        raise ValueError(f'{", ".join(paths)}: no annotation files')
    return named, found


def pair_annotations(paths: Sequence[str], candidates: Callable[[], list[str] | None], fps: float | None = None,
                     stream: str | None = None, rater: str | None = None
                     ) -> tuple[list[tuple[str, Annotation]], list[str]]:
    """Read the annotation files of ``paths`` (files or folders) and pair each with its recording.

    Annotations that name their pose file (the bouts-frames CSV, a ``DLCFile`` column) are paired with it when it
    exists; the others are matched by name (:func:`match_annotations`) to ``candidates()``, the recordings given
    (None when none were: an error if any annotation needs them). The annotation files themselves are never
    candidates. Returns ``(pairs, problems)``; a ValueError when nothing pairs.
    """
    read: list[Annotation] = []
    named, found = annotation_files(paths)
    skipped: list[str] = []
    for path in named + found:
        try:
            read.extend(read_annotations(path, fps=fps, stream=stream, rater=rater))
        except ValueError as exc:
            if path in named:
                raise
            skipped.append(f'{exc} (skipped)')  # a file of another kind in a folder of annotations
    files = named + found
    pairs = [(os.path.normpath(ann.pose_file), ann) for ann in read
             if ann.pose_file is not None and os.path.isfile(ann.pose_file)]
    by_name = [ann for ann in read if ann.pose_file is None or not os.path.isfile(ann.pose_file)]
    problems: list[str] = []
    if by_name:
        pool = candidates()
        if pool is None:
            missing = by_name[0].pose_file or by_name[0].source
            raise FileNotFoundError(f'{missing}: no such pose file; give the recordings with --input')
        taken = {os.path.abspath(path) for path in files} | {os.path.abspath(path) for path, _ in pairs}
        matched, problems = match_annotations([p for p in pool if os.path.abspath(p) not in taken], by_name)
        pairs.extend(matched)
    problems = skipped + problems
    if not pairs:
        raise ValueError('no recording has annotations: ' + ('; '.join(problems) or 'nothing matched'))
    return pairs, problems


def mean_bout_lengths(annotated: Sequence[Annotation], classes: Sequence[str], scale: float | None = None
                      ) -> dict[str, float]:
    """Mean bout length in frames of each class over several recordings' bouts (classes without bouts left out);
    with ``scale`` (a frame rate), each recording's lengths are converted from its own ``fps`` to that rate."""
    lengths: dict[str, list[float]] = {name: [] for name in classes}
    for ann in annotated:
        factor = scale / ann.fps if scale is not None and ann.fps else 1.0
        for bout in ann.bouts:
            if bout.label in lengths:
                lengths[bout.label].append((bout.end - bout.start + 1) * factor)
    return {name: round(float(np.mean(values)), 3) for name, values in lengths.items() if values}
