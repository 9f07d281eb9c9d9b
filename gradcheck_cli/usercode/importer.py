"""``FILE.py:NAME`` or ``module:NAME`` -> the user's callable, imported as ``python FILE.py`` would.

* The file's folder (the current directory for ``module:NAME``) is first on ``sys.path``
  while the file loads *and* while its functions run (``UserImports``, entered around
  every call by ``UserFunction``), so a sibling import works at the top of the file and
  inside a function body.  Outside those moments ``sys.path`` and ``sys.modules`` are
  exactly as before: the user's modules are kept aside (in ``UserImports.theirs``) and
  put back for the next call, so loading the same file again after an edit sees the new
  code.
* Neither side shadows the other: a ``random.py`` beside the user's file is the
  ``random`` the user's code imports (as under ``python FILE.py``), while gradcheck keeps
  the standard library's; the user's modules are never replaced by ones of ours.  Only
  modules the interpreter needs to start (``os``, ``sys``, ``encodings``...) cannot be
  shadowed, as under ``python FILE.py``.
* Files are compiled from source and no bytecode is read or written for them
  (``__pycache__`` timestamps have one-second resolution, so a same-second edit could
  otherwise run stale code).

Failures raise ``LoadError`` (cannot find or load) or ``UserCodeError`` (the user's code
raised while loading; it carries the user's traceback).  Not thread-safe: it changes
``sys.path``, ``sys.meta_path`` and ``sys.modules`` while active.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import itertools
import keyword
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import LoadError, UserCodeError
from .state import GUARD
from .tracebacks import exception_line, user_traceback

__all__ = ["load_callable", "load_user_function", "UserImports"]

_PRIVATE_PREFIX = "_gradcheck_user_"
_counter = itertools.count(1)
_MAX_LISTED = 12  # names listed in "it defines: ..."
#: modules that ``python FILE.py`` has imported before the file runs: never shadowed
_STARTUP = frozenset(sys.builtin_module_names) | {
    "os", "sys", "io", "abc", "codecs", "encodings", "site", "stat", "posixpath", "ntpath",
    "genericpath", "importlib", "zipimport", "types", "warnings", "gradcheck_cli",
}


# --------------------------------------------------------------------------- the user's imports


class UserImports:
    """The user's folder first on ``sys.path`` and the user's modules in ``sys.modules``,
    while active (a context manager; nested entries are counted, only the outermost acts).

    ``theirs`` holds the user's modules (their file, its siblings) between activations;
    modules of ours that a file of theirs would shadow (their ``random.py``) are set aside
    while active and put back afterwards.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.theirs: dict[str, ModuleType] = {}
        self._depth = 0
        self._ours: dict[str, ModuleType] = {}
        self._saved_path: list[str] = []
        self._count = 0
        self._meta_index = 0
        self._foreign: dict[str, tuple[ModuleType, list[str]]] = {}  # ours it shadows: (module, keys)
        self._directory_text = str(directory)
        self._finder = _FreshSourceFinder(directory)
        try:
            entries = os.listdir(directory)
        except OSError:
            entries = []
        local = set()
        for entry in entries:
            stem, dot, suffix = entry.partition(".")
            if dot and suffix == "py" and stem.isidentifier():
                local.add(stem)
            elif not dot and entry.isidentifier() and os.path.isfile(os.path.join(directory, entry, "__init__.py")):
                local.add(entry)
        self._local = frozenset(local - _STARTUP)

    def __enter__(self) -> "UserImports":
        self._depth += 1
        if self._depth == 1:
            self._activate()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._deactivate()

    def _activate(self) -> None:
        self._saved_path = list(sys.path)
        sys.path.insert(0, self._directory_text)
        meta = sys.meta_path
        index = self._meta_index
        if index >= len(meta) or meta[index] is not importlib.machinery.PathFinder:
            index = self._meta_index = next(
                (i for i, f in enumerate(meta) if f is importlib.machinery.PathFinder), len(meta))
        meta.insert(index, self._finder)
        modules = sys.modules
        theirs = self.theirs
        for name in self._local:  # ours that a file of theirs shadows: set aside
            mine = modules.get(name)
            if mine is None:
                continue
            if theirs.get(name) is mine:
                continue
            known = self._foreign.get(name)
            if known is None or known[0] is not mine:  # (module, its keys): a location check once per module
                if _comes_from(mine, self.directory):
                    keys: list[str] = []  # a module of that folder imported by other means: left alone
                else:
                    keys = ([k for k in modules if k == name or k.startswith(name + ".")]
                            if hasattr(mine, "__path__") else [name])
                known = self._foreign[name] = (mine, keys)
            for key in known[1]:
                module = modules.pop(key, None)
                if module is not None:
                    self._ours[key] = module
        modules.update(theirs)
        self._count = len(modules)

    def _deactivate(self) -> None:
        sys.path[:] = self._saved_path
        try:
            sys.meta_path.remove(self._finder)
        except ValueError:
            pass
        modules = sys.modules
        theirs = self.theirs
        added = len(modules) - self._count
        if added > 0:  # modules imported meanwhile sit at the end (dicts keep insertion order)
            tops: dict[str, bool] = {}
            for name in list(itertools.islice(reversed(modules), added)):
                top = name.partition(".")[0]
                if top not in tops:
                    tops[top] = top.startswith(_PRIVATE_PREFIX) or top in theirs or _comes_from(
                        modules.get(top) or modules.get(name), self.directory)
                if tops[top]:
                    theirs[name] = modules[name]
        for name in list(theirs):
            module = modules.pop(name, None)
            if module is not None:
                theirs[name] = module
        if self._ours:
            modules.update(self._ours)
            self._ours.clear()


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """A source loader that always compiles from source and never touches bytecode."""

    def get_code(self, fullname: str):  # type: ignore[override]
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)


class _FreshSourceFinder:
    """Meta-path finder that loads the plain-source modules of one directory freshly.

    Sits just before ``PathFinder``; for anything that is not a source module inside
    ``directory`` it returns None and lets the normal machinery do its job.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        if path is None:
            search = [str(self.directory)]
        else:
            search = [p for p in path if _is_inside(p, self.directory)]
            if not search:
                return None
        found = importlib.machinery.PathFinder.find_spec(fullname, search, target)
        if found is None or not isinstance(found.loader, importlib.machinery.SourceFileLoader):
            return None
        origin = found.origin
        return importlib.util.spec_from_file_location(
            fullname,
            origin,
            loader=_FreshSourceLoader(fullname, origin),
            submodule_search_locations=found.submodule_search_locations,
        )

    def invalidate_caches(self) -> None:
        """Nothing cached here."""


def _comes_from(module: Any, directory: Path) -> bool:
    """Whether a top-level module (file or package directory) lives in ``directory``."""
    if module is None:
        return False
    paths = getattr(module, "__path__", None)
    file = getattr(module, "__file__", None)
    try:
        if paths is not None:  # a package: its own directory must sit in `directory`
            first = next(iter(paths), None)
            location = first if first is not None else (os.path.dirname(file) if file else None)
        else:
            location = file
        if not location:
            return False
        return Path(location).resolve().parent == directory
    except (OSError, TypeError, ValueError):
        return False


def _is_inside(path: Any, directory: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(directory)
    except (OSError, TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- loading


def load_callable(spec: str, *, what: str = "function") -> Callable[..., Any]:
    """Return the callable named by ``spec``: ``path/to/file.py:NAME`` or ``module:NAME``.

    ``NAME`` may be dotted (``Model.loss``).  The left part is a file when it ends in
    ``.py``, contains a path separator or names an existing file; otherwise a module,
    searched in the current directory first.  ``what`` names the thing in messages.
    Raises ``LoadError`` when it cannot be found, ``UserCodeError`` when the user's
    code raises while loading.
    """
    return _load(spec, what, {})[0]


def load_user_function(spec: str, *, what: str = "function",
                       shared: dict[Path, UserImports] | None = None) -> tuple[Callable[..., Any], UserImports]:
    """The callable named by ``spec`` and the ``UserImports`` its calls must run inside.

    ``shared`` (folder -> UserImports) lets functions loaded from one folder (a forward
    and a backward pass) share their sibling modules, as one program would.
    """
    return _load(spec, what, {} if shared is None else shared)


def _load(spec: str, what: str, shared: dict[Path, UserImports]) -> tuple[Callable[..., Any], UserImports]:
    with GUARD:  # their output to our stderr, our state restored
        return _load_guarded(spec, what, shared)


def _load_guarded(spec: str, what: str, shared: dict[Path, UserImports]) -> tuple[Callable[..., Any], UserImports]:
    source, attr = _split_spec(spec, what)
    if _looks_like_file(source):
        path = _file_path(spec, source)
        imports = shared.setdefault(path.parent, UserImports(path.parent))
        module = _load_file(spec, source, path, imports)
    else:
        if not _is_module_name(source):
            raise LoadError(f"cannot load '{spec}': '{source}' is neither an existing file nor a module name")
        cwd = Path.cwd().resolve()
        imports = shared.setdefault(cwd, UserImports(cwd))
        module = _load_module(spec, source, imports)
    with imports:  # a property or __getattr__ of theirs may import
        return _get_callable(spec, source, module, attr, what), imports


def _split_spec(spec: str, what: str) -> tuple[str, str]:
    """Split ``spec`` at its last ``:`` into (file or module, NAME), validating both."""
    if ":" not in spec:
        raise LoadError(f"cannot load '{spec}': expected FILE.py:NAME or module:NAME")
    source, _, attr = spec.rpartition(":")
    source, attr = source.strip(), attr.strip()
    if not source:
        raise LoadError(f"cannot load '{spec}': no file or module before ':'")
    if not attr:
        raise LoadError(f"cannot load '{spec}': no {what} name after ':'")
    for part in attr.split("."):
        if not part.isidentifier() or keyword.iskeyword(part):
            raise LoadError(f"cannot load '{spec}': '{attr}' is not a valid Python name")
    return source, attr


def _looks_like_file(source: str) -> bool:
    """A path (``.py`` suffix or a separator), or an existing file that is no module name."""
    seps = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    return (
        source.endswith(".py")
        or any(s in source for s in seps)
        or (os.path.isfile(source) and not _is_module_name(source))
    )


def _is_module_name(source: str) -> bool:
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in source.split("."))


def _not_python(spec: str, source: str) -> LoadError:
    """Only ``.py`` files are executed: any other file's content is neither run nor echoed."""
    return LoadError(
        f"cannot load '{spec}': '{source}' is not a Python file (expected FILE.py:NAME or module:NAME)"
    )


def _file_path(spec: str, source: str) -> Path:
    """The resolved path of the ``.py`` file ``source``, checked to exist and be readable."""
    path = Path(source).expanduser()
    if path.is_dir():
        raise LoadError(f"cannot load '{spec}': '{source}' is a directory, not a Python file")
    if not path.is_file():
        raise LoadError(f"cannot load '{spec}': no file '{source}'")
    if path.suffix != ".py":
        raise _not_python(spec, source)
    path = path.resolve()
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise LoadError(f"cannot load '{spec}': cannot read '{source}': {exc.strerror}") from exc
    return path


def _module_form(path: Path) -> str | None:
    """``pkg.mod`` for a file ``pkg/mod.py`` under the current directory (None elsewhere)."""
    try:
        rel = path.with_suffix("").relative_to(Path.cwd().resolve())
    except ValueError:
        return None
    parts = rel.parts
    return ".".join(parts) if parts and all(_is_module_name(p) for p in parts) else None


def _load_file(spec: str, source: str, path: Path, imports: UserImports) -> ModuleType:
    """Execute the file ``path`` as a fresh private module and return it."""
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    name = f"{_PRIVATE_PREFIX}{next(_counter)}_{stem}"
    loader = _FreshSourceLoader(name, str(path))
    mspec = importlib.util.spec_from_file_location(name, str(path), loader=loader)
    assert mspec is not None
    module = importlib.util.module_from_spec(mspec)
    importlib.invalidate_caches()  # a sibling written within the last second is seen
    with imports:
        sys.modules[name] = module
        try:
            loader.exec_module(module)
        except KeyboardInterrupt:
            raise
        except ImportError as exc:
            message = f"error in '{source}' while loading it: {exception_line(exc)}"
            if "relative import" in str(exc):
                dotted = _module_form(path)
                form = f"'{dotted}:{spec.rpartition(':')[2]}'" if dotted else "module:NAME"
                message += (f" (a file that uses relative imports is part of a package: load it as "
                            f"{form} from the folder above the package)")
            raise UserCodeError(message, user_traceback=user_traceback(exc)) from exc
        except BaseException as exc:
            raise UserCodeError(
                f"error in '{source}' while loading it: {exception_line(exc)}",
                user_traceback=user_traceback(exc),
            ) from exc
    return module


def _load_module(spec: str, source: str, imports: UserImports) -> ModuleType:
    """Import the dotted module ``source``, looking in the current directory first."""
    importlib.invalidate_caches()
    with imports:
        try:
            return importlib.import_module(source)
        except KeyboardInterrupt:
            raise
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if missing and (source == missing or source.startswith(missing + ".")):
                if os.path.isfile(source):
                    raise _not_python(spec, source) from None
                raise LoadError(f"cannot load '{spec}': no module '{missing}'") from exc
            raise UserCodeError(
                f"error in '{source}' while loading it: {exception_line(exc)}",
                user_traceback=user_traceback(exc),
            ) from exc
        except BaseException as exc:
            raise UserCodeError(
                f"error in '{source}' while loading it: {exception_line(exc)}",
                user_traceback=user_traceback(exc),
            ) from exc


def _get_callable(spec: str, source: str, module: ModuleType, attr: str, what: str) -> Callable:
    """Resolve the (possibly dotted) ``attr`` in ``module`` and check it is callable."""
    obj: Any = module
    parts = attr.split(".")
    for i, part in enumerate(parts):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            if i == 0:
                raise LoadError(
                    f"cannot load '{spec}': '{source}' has no {what} '{part}' "
                    f"({_defined_names(module)})"
                ) from None
            owner = ".".join(parts[:i])
            raise LoadError(
                f"cannot load '{spec}': '{owner}' in '{source}' has no attribute '{part}'"
            ) from None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a property or __getattr__ of the user's that raised
            raise UserCodeError(
                f"error in '{source}' while getting '{attr}': {exception_line(exc)}",
                user_traceback=user_traceback(exc),
            ) from exc
    if not callable(obj):
        raise LoadError(
            f"cannot load '{spec}': '{attr}' in '{source}' is of type "
            f"{type(obj).__name__}, not a {what}"
        )
    return obj


def _defined_names(module: ModuleType) -> str:
    """'it defines: a, b' for the public callables defined (not imported) in ``module``."""
    names = [
        key
        for key, value in vars(module).items()
        if not key.startswith("_")
        and callable(value)
        and getattr(value, "__module__", None) == module.__name__
    ]
    if not names:
        return "it defines no functions"
    shown = ", ".join(names[:_MAX_LISTED])
    return f"it defines: {shown}{', ...' if len(names) > _MAX_LISTED else ''}"
