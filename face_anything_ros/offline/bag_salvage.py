"""Read what survives of a damaged bag: a recording killed before it finished.

Two common damages, both refused by the normal readers:

* an mcap file cut short (no summary/footer): its records are scanned linearly from the start,
  through chunks, until the data ends;
* a bag folder whose ``metadata.yaml`` was never written: its ``.db3`` (SQLite commits are atomic,
  so the file itself is usually intact) or ``.mcap`` is read directly.

``SalvageReader`` offers the slice of the ``rosbags.highlevel.AnyReader`` interface that the replay
uses (``connections``, ``messages()``, ``deserialize()``); it decodes with our typestore (ROS 2
Kilted + our messages), which holds every type the replay reads.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from io import SEEK_END, BytesIO
from pathlib import Path
from typing import Any, BinaryIO

MCAP_MAGIC = b"\x89MCAP0\r\n"
_OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE, _OP_CHUNK = 0x03, 0x04, 0x05, 0x06
MAX_CHUNK_BYTES = 2**30  # largest uncompressed mcap chunk accepted (rosbag2 writes a few MB)


class SalvageError(RuntimeError):
    """Nothing could be read (reason in the message)."""


@dataclass
class SalvagedConnection:
    """A topic found in the damaged bag (``msgcount`` unknown: 0)."""

    id: int
    topic: str
    msgtype: str
    msgcount: int = 0


def _read(bio: BinaryIO, size: int) -> bytes:
    here = bio.tell()
    remaining = bio.seek(0, SEEK_END) - here
    bio.seek(here)
    if size > remaining:  # a length field is untrusted: never allocate more than the file holds
        raise EOFError(f"record claims {size} bytes but only {remaining} remain")
    data = bio.read(size)
    if len(data) != size:
        raise EOFError(f"record cut short ({len(data)} of {size} bytes)")
    return data


def _string(bio: BinaryIO) -> str:
    (size,) = struct.unpack("<I", _read(bio, 4))
    return _read(bio, size).decode("utf-8")


def _decompress(data: bytes, compression: str, size: int) -> bytes:
    if not compression:
        return data
    from rosbags.rosbag2.storage_mcap import DECOMPRESSORS  # lz4 / zstd, as rosbags reads them

    if compression not in DECOMPRESSORS:
        raise SalvageError(f"unsupported mcap chunk compression '{compression}'")
    if size > MAX_CHUNK_BYTES:  # the uncompressed size is read from the file: bound the allocation
        raise SalvageError(f"mcap chunk claims {size} uncompressed bytes (limit {MAX_CHUNK_BYTES})")
    return DECOMPRESSORS[compression](data, size)


def _mcap_records(bio: BinaryIO, end: int) -> Iterator[tuple[int, bytes]]:
    """(opcode, content) of every record, descending into chunks; stops at a cut."""
    while bio.tell() < end:
        opcode = _read(bio, 1)[0]
        (length,) = struct.unpack("<Q", _read(bio, 8))
        content = _read(bio, length)
        if opcode == _OP_CHUNK:
            chunk = BytesIO(content)
            _, _, uncompressed_size, _ = struct.unpack("<QQQI", _read(chunk, 28))
            compression = _string(chunk)
            (records_size,) = struct.unpack("<Q", _read(chunk, 8))
            records = _decompress(_read(chunk, records_size), compression, uncompressed_size)
            yield from _mcap_records(BytesIO(records), len(records))
        else:
            yield opcode, content


class SalvageReader:
    """Messages of a damaged mcap file or a bag folder without metadata.yaml."""

    def __init__(self, path: Path, typestore: Any) -> None:
        self.typestore = typestore
        self.problem = ""  # why reading stopped early ("" when it reached the end)
        files = sorted(path.glob("*.mcap")) + sorted(path.glob("*.db3")) if path.is_dir() else [path]
        if not files or files[0].suffix not in (".mcap", ".db3"):
            raise SalvageError(f"{path}: no .mcap or .db3 file to salvage")
        self.file = files[0]
        self.connections: list[SalvagedConnection] = []
        if self.file.suffix == ".db3":
            self._init_sqlite()
        else:
            self._mcap_connections()

    # --- sqlite3 ---

    def _init_sqlite(self) -> None:
        try:
            self._db = sqlite3.connect(f"file:{self.file}?mode=ro", uri=True)
            rows = self._db.execute("SELECT id, name, type FROM topics").fetchall()
        except sqlite3.DatabaseError as exc:
            raise SalvageError(
                f"{self.file}: {exc} (try `sqlite3 {self.file.name} .recover` to rebuild the database)"
            ) from exc
        self.connections = [SalvagedConnection(int(i), str(n), str(t)) for i, n, t in rows]

    def _sqlite_messages(self, wanted: dict[int, SalvagedConnection]) -> Iterator[tuple[Any, int, bytes]]:
        query = "SELECT topic_id, timestamp, data FROM messages ORDER BY timestamp"
        try:
            for topic_id, timestamp, data in self._db.execute(query):
                if topic_id in wanted:
                    yield wanted[topic_id], int(timestamp), bytes(data)
        except sqlite3.DatabaseError as exc:
            self.problem = f"database damaged: {exc}"
            raise

    # --- mcap ---

    def _scan_mcap(self) -> Iterator[tuple[int, bytes]]:
        with self.file.open("rb") as bio:
            if bio.read(len(MCAP_MAGIC)) != MCAP_MAGIC:
                raise SalvageError(f"{self.file}: not an mcap file")
            yield from _mcap_records(bio, self.file.stat().st_size)

    def _mcap_connections(self) -> None:
        schemas: dict[int, str] = {}
        try:
            for opcode, content in self._scan_mcap():
                record = BytesIO(content)
                if opcode == _OP_SCHEMA:
                    (schema_id,) = struct.unpack("<H", _read(record, 2))
                    schemas[schema_id] = _string(record)
                elif opcode == _OP_CHANNEL:
                    channel_id, schema_id = struct.unpack("<HH", _read(record, 4))
                    topic = _string(record)
                    self.connections.append(SalvagedConnection(channel_id, topic, schemas.get(schema_id, "")))
        except (EOFError, SalvageError) as exc:
            self.problem = str(exc)
        if not self.connections:
            raise SalvageError(f"{self.file}: no readable topic ({self.problem or 'empty'})")

    def _mcap_messages(self, wanted: dict[int, SalvagedConnection]) -> Iterator[tuple[Any, int, bytes]]:
        try:
            for opcode, content in self._scan_mcap():
                if opcode == _OP_MESSAGE:
                    channel_id, _, log_time, _ = struct.unpack("<HIQQ", content[:22])
                    if channel_id in wanted:
                        yield wanted[channel_id], log_time, content[22:]
        except EOFError as exc:
            self.problem = f"mcap file ends mid-record: {exc}"
            raise

    # --- the AnyReader slice used by the replay ---

    def messages(self, connections: list[Any]) -> Iterator[tuple[Any, int, bytes]]:
        wanted = {c.id: c for c in connections}
        if self.file.suffix == ".db3":
            return self._sqlite_messages(wanted)
        return self._mcap_messages(wanted)

    def deserialize(self, raw: bytes, msgtype: str) -> Any:
        return self.typestore.deserialize_cdr(raw, msgtype)

    def close(self) -> None:
        if self.file.suffix == ".db3":
            self._db.close()
