"""Model directories: ``model.joblib`` plus ``manifest.json`` (schema, versions, checksum).

Writes are atomic: everything goes to a temporary sibling directory that replaces the
target in one rename, so an interrupted save never leaves a half-written model behind.
Loading verifies the manifest, the format version and the checksum before unpickling.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import joblib

from .exceptions import InputError, ModelLoadError
from .versions import MODEL_FORMAT_VERSION, library_versions

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable_file(path: str | Path, label: str) -> None:
    """Raise ``InputError`` (naming ``label``) unless ``path`` can be written the way this package writes files:
    a temporary sibling renamed into place (or, for a store, files beside it), so its folder must be writable
    or creatable, and an existing ``path`` must be a readable, writable file. Checked before work that takes
    time, so that a bad path fails at once rather than after the budget."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{label} {str(path)!r} is a directory, not a file")
    if path.exists():
        try:
            with open(path, "r+b"):
                pass
        except OSError as exc:
            raise InputError(f"{label} {str(path)!r} cannot be read and written: {exc.strerror or exc}") from None
    _check_creatable_in(path.parent, path, label)


def check_writable_dir(path: str | Path, label: str, *, replaced: bool = False) -> None:
    """Raise ``InputError`` (naming ``label``) unless directory ``path`` can be written: it is not an existing
    file, and files can be created in it (or, when it does not exist yet or is ``replaced`` as a whole through
    a sibling, as model directories are, in its nearest existing parent)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{label} {str(path)!r} exists and is not a directory")
    _check_creatable_in(path.parent if replaced else path, path, label)


def _check_creatable_in(folder: Path, path: Path, label: str) -> None:
    """A file can be created in ``folder``, or in its nearest existing parent when it does not exist yet."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{label} {str(path)!r} cannot be created: {str(existing)!r} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=".automl-write-check-", dir=existing)
    except OSError as exc:
        raise InputError(f"{label} {str(path)!r} cannot be written: cannot create files in {str(existing)!r} "
                         f"({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def save_model(obj: Any, directory: str | Path, manifest: dict) -> Path:
    """Save ``obj`` and ``manifest`` into ``directory`` atomically; returns the directory."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ModelLoadError(f"cannot save the model: {str(directory)!r} exists and is not a directory")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        model_path = staging / MODEL_FILE
        joblib.dump(obj, model_path, compress=3)
        full = dict(manifest)
        full["format_version"] = MODEL_FORMAT_VERSION
        full["versions"] = library_versions()
        full["model_file"] = MODEL_FILE
        full["model_sha256"] = _sha256(model_path)
        full["model_bytes"] = model_path.stat().st_size
        (staging / MANIFEST_FILE).write_text(json.dumps(full, indent=2, default=str), encoding="utf-8")
        if directory.exists():
            _replace_directory(staging, directory)
        else:
            os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


_RENAME_EXCHANGE = 2  # renameat2 flag (Linux >= 3.15): swap two paths in one step


def _exchange(a: Path, b: Path) -> bool:
    """Swap directories ``a`` and ``b`` atomically (Linux renameat2); False where the system cannot."""
    import ctypes
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError, TypeError):  # (no C library by that call: not Linux)
        return False
    at_fdcwd = -100
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return done == 0


def _replace_directory(staging: Path, directory: Path) -> None:
    """Put ``staging`` in the place of the existing ``directory``. Where the system swaps two directories in one
    step, a kill at any moment leaves either the old or the new model at ``directory``, whole; elsewhere two
    renames leave ``directory`` absent for an instant (the old model then waits in ``.NAME.old-PID``)."""
    if _exchange(staging, directory):
        shutil.rmtree(staging, ignore_errors=True)  # (now holding the old model)
        return
    old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
    os.replace(directory, old)
    os.replace(staging, directory)
    shutil.rmtree(old, ignore_errors=True)


def directory_size(directory: str | Path) -> int:
    """Bytes of the files in a model directory (what deploying it copies)."""
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())


def read_manifest(directory: str | Path) -> dict:
    directory = Path(directory)
    if not directory.exists():
        raise ModelLoadError(f"model directory {str(directory)!r} does not exist")
    if not directory.is_dir():
        raise ModelLoadError(f"{str(directory)!r} is not a model directory")
    path = directory / MANIFEST_FILE
    if not path.exists():
        raise ModelLoadError(f"{str(directory)!r} is not a model directory: {MANIFEST_FILE} is missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"model manifest {str(path)!r} is damaged: {exc}") from None
    if not isinstance(manifest, dict) or "format_version" not in manifest:
        raise ModelLoadError(f"model manifest {str(path)!r} is damaged: no format_version")
    return manifest


def load_model(directory: str | Path) -> tuple[Any, dict]:
    """Verify and load a model directory; returns (object, manifest)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    saved = str(manifest["format_version"])
    if saved.split(".")[0] != MODEL_FORMAT_VERSION.split(".")[0]:
        raise ModelLoadError(f"model in {str(directory)!r} was saved in format {saved}, this version reads "
                             f"{MODEL_FORMAT_VERSION.split('.')[0]}.x; refit it with this version")
    model_path = directory / manifest.get("model_file", MODEL_FILE)
    if not model_path.exists():
        raise ModelLoadError(f"model file {str(model_path)!r} is missing")
    if _sha256(model_path) != manifest.get("model_sha256"):
        raise ModelLoadError(f"model file {str(model_path)!r} does not match its checksum; it was changed or "
                             f"damaged, refit the model")
    try:
        obj = joblib.load(model_path)
    except ImportError as exc:  # a member of an optional family (catboost, xgboost) whose package is absent here
        raise ModelLoadError(f"cannot load {str(model_path)!r}: the model needs the {exc.name or 'missing'} package, "
                             f"which is not installed: pip install {exc.name or '...'}") from None
    except Exception as exc:  # unpickling can raise nearly anything
        raise ModelLoadError(f"cannot load {str(model_path)!r}: {type(exc).__name__}: {exc}") from None
    return obj, manifest
