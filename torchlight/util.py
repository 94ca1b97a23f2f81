"""Utilities shared by main.py, the processors and the tools.

Everything here is free of side effects at import time.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import importlib
import io
import logging
import os
import pickle
import sys
import tempfile
from typing import Any, Callable, Iterable, Iterator


logger = logging.getLogger(__name__)


def str2bool(value: str | bool) -> bool:
    """Parse 'true/false', 'yes/no', '1/0' (case-insensitive) for argparse."""
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ('yes', 'true', 't', 'y', '1'):
        return True
    if lowered in ('no', 'false', 'f', 'n', '0'):
        return False
    raise argparse.ArgumentTypeError(f'expected a boolean (true/false), got {value!r}')


def _literal(text: str) -> Any:
    """A Python literal if ``text`` is one, else the text itself (a bare string)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


class DictAction(argparse.Action):
    """``--opt key=value key2=value2``: values are Python literals (ast.literal_eval, never eval).

    A whole dict literal (``--opt "{'a': 1}"``) is accepted too. The parsed dict is merged
    over the config file's dict by the processor, key by key.
    """

    def __init__(self, option_strings, dest, nargs=None, **kwargs):
        if nargs is None:
            nargs = '+'
        super().__init__(option_strings, dest, nargs=nargs, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        result: dict = {}
        for item in values:
            item = item.strip()
            if item.startswith('{'):
                parsed = _literal(item)
                if not isinstance(parsed, dict):
                    parser.error(f'{option_string}: {item!r} is not a dict literal')
                result.update(parsed)
                continue
            if '=' not in item:
                parser.error(f"{option_string}: expected key=value, got {item!r}")
            key, text = item.split('=', 1)
            result[key.strip()] = _literal(text.strip())
        setattr(namespace, self.dest, result)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows '(default: X)' only where there is a default and the help does not already describe it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ''
        if action.default is None or action.default is False or 'default' in text:
            return text
        return super()._get_help_string(action)


def import_class(name: str):
    """Import ``package.module.Class`` given as a dotted path; a clear error names the path."""
    if not isinstance(name, str) or '.' not in name:
        raise ValueError(f'expected a dotted path such as net.st_gcn.Model, got {name!r}')
    module_name, _, attr = name.rpartition('.')
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValueError(f'cannot import {name!r}: no module {exc.name!r}') from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f'cannot import {name!r}: module {module_name!r} has no {attr!r}') from None


def closest(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' hint for a misspelt option, or ''."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f' (did you mean {match[0]!r}?)' if match else ''


# ---------------------------------------------------------------- atomic writes
@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[str]:
    """A temporary path next to ``path``, renamed over ``path`` when the block ends without an error.

    For writers that want a file name (OpenCV's VideoWriter, ``np.lib.format.open_memmap``); the temporary file
    keeps ``path``'s extension (or ``suffix``) so that such writers pick the right format. A crash or exception
    leaves the old file (or no file) in place, never a half-written one. The file gets the permissions ``open``
    would give it (the umask), not mkstemp's 0600.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(path)[1] if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp' + suffix, dir=directory)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = 'wb') -> Iterator[Any]:
    """Open a temporary file next to ``path`` (``mode`` 'w' or 'wb'); rename it over ``path`` only on success.

    The data are flushed to disk (fsync) before the rename. See :func:`atomic_path`.
    """
    with atomic_path(path, suffix='') as tmp:
        with open(tmp, mode, **({} if 'b' in mode else {'encoding': 'utf-8'})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def save_pickle(path: str | os.PathLike, obj: Any) -> None:
    """Pickle ``obj`` atomically (protocol 4)."""
    with atomic_write(path, 'wb') as handle:
        pickle.dump(obj, handle, protocol=4)


# ---------------------------------------------------------------- safe pickles
_SAFE_BUILTINS = {'list', 'tuple', 'dict', 'set', 'frozenset', 'str', 'bytes', 'int', 'float',
                  'complex', 'bool', 'slice', 'range', 'bytearray'}
_SAFE_NUMPY = {
    ('numpy', 'ndarray'), ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'), ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', '_reconstruct'), ('numpy._core.multiarray', 'scalar'),
    ('numpy.core.numeric', '_frombuffer'), ('numpy._core.numeric', '_frombuffer'),
    ('collections', 'OrderedDict'), ('_codecs', 'encode'),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module == 'builtins' and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        if (module, name) in _SAFE_NUMPY:
            return super().find_class(module, name)
        if module == 'numpy' and name.endswith('DType'):  # numpy 2 dtype classes
            return super().find_class(module, name)
        if module.startswith('numpy.dtypes') and name.endswith('DType'):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f'refused to load {module}.{name}: only lists, tuples, dicts, '
                                     'strings, numbers and numpy arrays are allowed')


def safe_load_pickle(path: str | os.PathLike) -> Any:
    """Load a pickle admitting only builtin containers, numbers, strings and numpy arrays.

    Raises FileNotFoundError for a missing file and ValueError naming the file for anything
    else (a refused class, a truncated or non-pickle file); nothing in the file is executed.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    with open(path, 'rb') as handle:
        data = handle.read()
    try:
        return _RestrictedUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as exc:
        raise ValueError(f'{path}: {exc}') from None
    except (EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f'{path}: not a readable pickle ({type(exc).__name__}: {exc})') from None


# ---------------------------------------------------------------- command lines
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError,
               NotADirectoryError, PermissionError, KeyError)


def run_cli(main: Callable[..., int | None], *args, prog: str | None = None) -> None:
    """Run ``main`` and turn a user error into one line on stderr and exit code 1.

    Set ST_GCN_TRACEBACK=1 to see the full traceback instead.
    """
    prog = prog or os.path.basename(sys.argv[0])
    try:
        code = main(*args)
    except USER_ERRORS as exc:
        if os.environ.get('ST_GCN_TRACEBACK'):
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f'{prog}: error: {message}', file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f'{prog}: interrupted', file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
