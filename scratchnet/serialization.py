"""Save and load checkpoints: nested dicts/lists/tuples of arrays and Python scalars.

A checkpoint is one ``.npz`` file (a zip of ``.npy`` arrays) that plain
``np.load`` and any zip tool can open:

* every array sits under a generated name (``array_0``, ``array_1``, ...);
* ``manifest`` is a JSON document, stored as a uint8 array, that records the
  nested structure (dict key types, list vs tuple), the Python scalars
  (``int``/``float``/``bool``/``None``/``str``) and a format version.

Two properties matter more than anything else here:

* **No pickle.** Arrays of object dtype are refused when saving and
  ``allow_pickle=False`` is used when loading, so loading a checkpoint from
  an untrusted source cannot run code; it can only fail with ``ValueError``.
* **Atomic writes.** The file is written under a temporary name in the same
  directory, flushed to disk, then renamed onto the target. A crash or an
  error half-way never leaves a half-written checkpoint, and an older
  checkpoint at the same path stays as it was until the new one is complete.

Tensors are stored as their arrays and come back as arrays; CuPy arrays come
back as NumPy arrays unless ``load(..., device='cuda')`` is asked for.
"""

import json
import os
import secrets
import struct
import zipfile
import zlib

import numpy as np

from . import backend
from .tensor import Tensor

FORMAT = "scratchnet.checkpoint"
VERSION = 1
MANIFEST = "manifest"  # the npz entry holding the JSON manifest

_SUPPORTED = "dict, list, tuple, None, bool, int, float, str, NumPy/CuPy arrays and scalars, Tensors"

# What reading a damaged or foreign file can raise, from zipfile, zlib, the .npy parser and json.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
    OSError,
    EOFError,
    ValueError,  # includes json.JSONDecodeError and UnicodeDecodeError
    KeyError,
    IndexError,
    TypeError,
    OverflowError,
    NotImplementedError,  # zipfile: unsupported compression method
    RuntimeError,  # zipfile: entry flagged as encrypted
    RecursionError,  # absurdly deep JSON
)


# --------------------------------------------------------------------------- save


def save(obj, path, compress=False):
    """Write ``obj`` to ``path`` as a checkpoint (exactly that path, with or without ``.npz``).

    ``obj`` is any nesting of dicts (str or int keys), lists and tuples over
    None, bool, int, float, str, NumPy arrays and scalars, CuPy arrays and
    Tensors. Anything else, and arrays of object dtype (which would need
    pickle), raise ``TypeError`` naming where in ``obj`` they sit, before any
    file is touched. ``compress=True`` deflates the arrays (smaller, slower).
    """
    arrays = {}
    try:
        root = _encode(obj, "obj", arrays, set())
        manifest = json.dumps({"format": FORMAT, "version": VERSION, "root": root}, allow_nan=False)
    except RecursionError:
        raise ValueError("save: obj is nested too deeply to be saved (Python's recursion limit)") from None
    arrays[MANIFEST] = np.frombuffer(manifest.encode("utf-8"), dtype=np.uint8)
    writer = np.savez_compressed if compress else np.savez
    _write_atomically(os.fspath(path), lambda f: writer(f, **arrays))


def _encode(x, where, arrays, active):
    """A JSON node describing ``x``; arrays go into ``arrays`` under fresh names.

    ``where`` is the path to ``x`` for error messages; ``active`` holds the ids
    of the containers being encoded, to catch a structure that contains itself.
    """
    # Order matters: bool is an int, and NumPy's float64 is a float.
    if x is None:
        return {"type": "none"}
    if isinstance(x, bool):
        return {"type": "bool", "value": x}
    if isinstance(x, (np.ndarray, np.generic, Tensor)) or _is_cupy_array(x):
        return _encode_array(x, where, arrays)
    if isinstance(x, int):
        return {"type": "int", "value": int(x)}
    if isinstance(x, float):
        return {"type": "float", "value": repr(float(x))}  # repr is exact, and spells nan/inf
    if isinstance(x, str):
        return {"type": "str", "value": str(x)}
    if isinstance(x, (dict, list, tuple)):
        if id(x) in active:
            raise TypeError(f"{where}: cannot save a structure that contains itself")
        active.add(id(x))
        if isinstance(x, dict):
            node = {"type": "dict", "items": [_encode_item(k, v, where, arrays, active) for k, v in x.items()]}
        else:
            items = [_encode(v, f"{where}[{i}]", arrays, active) for i, v in enumerate(x)]
            node = {"type": "list" if isinstance(x, list) else "tuple", "items": items}
        active.discard(id(x))
        return node
    raise TypeError(f"{where}: cannot save a {type(x).__name__}; checkpoints hold {_SUPPORTED}")


def _encode_item(key, value, where, arrays, active):
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        kind = type(key).__name__
        raise TypeError(f"{where}: cannot save a dict key of type {kind} ({key!r}); keys must be str or int")
    key_node = {"type": "str", "value": str(key)} if isinstance(key, str) else {"type": "int", "value": int(key)}
    return [key_node, _encode(value, f"{where}[{key!r}]", arrays, active)]


def _encode_array(x, where, arrays):
    scalar = isinstance(x, np.generic)
    if isinstance(x, Tensor):
        x = x.data
    array = x.get() if _is_cupy_array(x) else np.asarray(x)
    if array.dtype.hasobject:
        raise TypeError(f"{where}: cannot save an array of dtype {array.dtype} (objects would need pickle)")
    name = f"array_{len(arrays)}"
    arrays[name] = array
    return {"type": "scalar" if scalar else "array", "key": name}


def _is_cupy_array(x):
    """Duck-typed, so that saving never imports CuPy."""
    return hasattr(x, "__cuda_array_interface__") and hasattr(x, "get")


def _write_atomically(path, write):
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it onto ``path``.

    The rename is atomic, so readers see either the old file or the complete
    new one. On any failure the temporary file is removed and ``path`` is left
    as it was. (An open file is handed to ``write`` so that NumPy cannot add
    ``.npz`` to the name; ``os.open`` with mode 0o666 gives the file the usual
    umask permissions, where ``mkstemp`` would make it private.)
    """
    directory, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{name[:200]}.{secrets.token_hex(6)}.tmp")  # hidden, unique, short enough
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as e:  # name the checkpoint, not the temporary file (e.g. a folder that does not exist)
        raise type(e)(e.errno, e.strerror, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename itself survive a power cut (POSIX; a no-op where directories can't be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- load


class _Corrupt(Exception):
    """Raised inside ``load`` for a file that is readable but not a valid checkpoint."""


def load(path, device=None):
    """Read a checkpoint written by ``save`` and rebuild the structure exactly.

    Arrays come back as NumPy arrays, or on ``device`` ('cpu', 'cuda',
    'cuda:N') if given; NumPy scalars stay NumPy scalars. A missing file
    raises ``FileNotFoundError``; a truncated, corrupted or foreign file raises
    ``ValueError`` (and nothing in it is ever unpickled).
    """
    if device is not None:
        backend.parse_device(device)  # a bad device fails before the file is read
    path = os.fspath(path)
    with open(path, "rb") as f:  # FileNotFoundError / PermissionError pass through as they are
        try:
            result = _read(f)
        except (_Corrupt, *_READ_ERRORS) as e:
            reason = str(e) if isinstance(e, _Corrupt) else f"{type(e).__name__}: {e}"
            raise ValueError(f"{path}: not a scratchnet checkpoint or corrupted: {reason}") from e
    if device is not None and backend.parse_device(device)[0] != "numpy":
        result = _to_device(result, device)
    return result


def _read(f):
    """The structure stored in the open file ``f``, with NumPy arrays."""
    npz = np.load(f, allow_pickle=False)
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise _Corrupt("a single .npy array, not an .npz archive")
    with npz:
        if MANIFEST not in npz.files:
            raise _Corrupt(f"no {MANIFEST!r} entry")
        _check_size(npz, MANIFEST)
        raw = npz[MANIFEST]
        if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8 or raw.ndim != 1:
            raise _Corrupt(f"the {MANIFEST!r} entry is not a uint8 vector")
        manifest = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise _Corrupt(f"the manifest does not say format {FORMAT!r}")
        if manifest.get("version") != VERSION:
            raise _Corrupt(f"format version {manifest.get('version')!r}; this scratchnet reads version {VERSION}")
        if "root" not in manifest:
            raise _Corrupt("the manifest has no 'root'")
        names = set(npz.files) - {MANIFEST}

        def entry(key):
            if not isinstance(key, str) or key not in names:
                raise _Corrupt(f"the manifest refers to a missing array {key!r}")
            _check_size(npz, key)
            array = npz[key]
            if not isinstance(array, np.ndarray):
                raise _Corrupt(f"entry {key!r} is not a .npy array")
            return array

        return _decode(manifest["root"], entry)


def _check_size(npz, key):
    """Refuse entry ``key`` if its .npy header claims more data than the entry holds.

    NumPy allocates the whole array before reading it, so a damaged or hostile header claiming a
    terabyte would otherwise end in MemoryError (or in a huge allocation) instead of ValueError.
    """
    info = npz.zip.getinfo(key + ".npy") if key + ".npy" in npz.zip.namelist() else npz.zip.getinfo(key)
    # the sizes in the zip directory can lie too: bound them by the file and by what deflate can expand to
    file_bytes = npz.zip.fp.seek(0, os.SEEK_END)
    stored = info.compress_type == zipfile.ZIP_STORED
    if info.compress_size > file_bytes or info.file_size > (info.compress_size if stored else 1100 * info.compress_size):
        raise _Corrupt(f"entry {key!r} claims {info.file_size} bytes in {info.compress_size} stored bytes")
    with npz.zip.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            return  # version 3 (utf-8 field names): np.load checks it as it reads
        available = info.file_size - member.tell()
    if dtype.hasobject:
        return  # refused by allow_pickle=False when read
    claimed = dtype.itemsize
    for n in shape:
        claimed *= n
    if claimed > available:
        raise _Corrupt(f"entry {key!r} claims {claimed} bytes of data but holds {available}")


def _decode(node, entry):
    """Rebuild the value described by ``node``, checking every field (the file may be hostile)."""
    kind = node["type"] if isinstance(node, dict) else None
    if kind == "none":
        return None
    if kind in ("bool", "int", "str"):
        value = node["value"]
        if type(value) is not {"bool": bool, "int": int, "str": str}[kind]:
            raise _Corrupt(f"a {kind} node holds {value!r:.100}")
        return value
    if kind == "float":
        if not isinstance(node["value"], str):
            raise _Corrupt(f"a float node holds {node['value']!r:.100}")
        return float(node["value"])
    if kind in ("array", "scalar"):
        array = entry(node["key"])
        if kind == "array":
            return array
        if array.ndim != 0:
            raise _Corrupt(f"scalar entry {node['key']!r} has shape {array.shape}")
        return array[()]
    if kind in ("list", "tuple", "dict") and isinstance(node["items"], list):
        if kind == "list":
            return [_decode(item, entry) for item in node["items"]]
        if kind == "tuple":
            return tuple(_decode(item, entry) for item in node["items"])
        out = {}
        for item in node["items"]:
            if not (isinstance(item, list) and len(item) == 2):
                raise _Corrupt(f"a dict item is {item!r:.100}, not a [key, value] pair")
            key = _decode(item[0], entry)
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise _Corrupt(f"a dict key is {key!r:.100}, not a str or int")
            out[key] = _decode(item[1], entry)
        return out
    raise _Corrupt(f"unknown node {node!r:.100}")


def _to_device(x, device):
    """``x`` (a freshly loaded structure) with every array moved to ``device``."""
    if isinstance(x, np.ndarray):
        return backend.to_device(x, device)
    if isinstance(x, dict):
        return {k: _to_device(v, device) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to_device(v, device) for v in x)
    return x
