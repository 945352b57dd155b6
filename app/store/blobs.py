"""An adapter's files as one blob: a deterministic tar of what peft needs (same files → same bytes, so
its sha256 names the content), and back into a folder after checking that sha256."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import threading
from pathlib import Path

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")  # all peft needs to load a LoRA
MAX_ADAPTER_BYTES = 1 << 30  # 1 GiB: PostgreSQL's bytea limit; a LoRA of Gemma-3-270M is 15 MB at r=16


class AdapterBlobError(ValueError):
    """An adapter's stored files are missing, corrupt or do not match their sha256."""


def pack_adapter(folder: Path) -> tuple[bytes, str]:
    """An adapter folder's files as one deterministic tar (same files → same bytes) and its sha256."""
    buf = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in ADAPTER_FILES:
            data = (Path(folder) / name).read_bytes()
            total += len(data)
            if total > MAX_ADAPTER_BYTES:
                raise AdapterBlobError(f"adapter {folder} is larger than {MAX_ADAPTER_BYTES >> 20} MiB")
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0  # mtime 0: the bytes depend on content only
            tar.addfile(info, io.BytesIO(data))
    blob = buf.getvalue()
    return blob, hashlib.sha256(blob).hexdigest()


def folder_sha256(folder: Path) -> str | None:
    """sha256 of ``pack_adapter(folder)``, or None when the folder lacks the adapter files."""
    try:
        return pack_adapter(folder)[1]
    except (OSError, AdapterBlobError):
        return None


def unpack_adapter(blob: bytes, sha256: str, dest: Path) -> Path:
    """Write a stored blob's files into ``dest`` after checking its sha256; never extracts other names."""
    actual = hashlib.sha256(blob).hexdigest()
    if actual != sha256:
        raise AdapterBlobError(
            f"the stored files of {dest.name} are corrupt: sha256 {actual[:12]}… instead of {sha256[:12]}… "
            f"({len(blob)} bytes)"
        )
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tar:
            for name in ADAPTER_FILES:
                member = tar.getmember(name)
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is None:
                    raise AdapterBlobError(f"the stored files of {dest.name}: {name} is not a file")
                (tmp / name).write_bytes(handle.read())
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except (tarfile.TarError, KeyError) as exc:
        raise AdapterBlobError(f"the stored files of {dest.name} are unreadable: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
