"""torchlight: the small IO, logging and utility package the st-gcn processors share."""
from .util import (DictAction, HelpFormatter, atomic_path, atomic_write, import_class, run_cli,
                   safe_load_pickle, save_pickle, str2bool, closest)
from .io import IO

__all__ = ['IO', 'DictAction', 'HelpFormatter', 'atomic_path', 'atomic_write', 'import_class', 'run_cli',
           'safe_load_pickle', 'save_pickle', 'str2bool', 'closest']
