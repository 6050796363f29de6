"""The chunk vectors in Milvus: Milvus Lite (one local ``.db``) or a Milvus server.

A collection is a copy of one build's ``chunks.faiss``: the primary key ``row`` is the
FAISS row number and the index is exact (FLAT, inner product), so a search gives the
same rows as the embedded FAISS store. A copy that lost rows is refilled from the build,
never trusted (``MilvusStore.open`` returns None and the caller publishes again).

What was checked (pymilvus 3.0, milvus-lite 3.2, Linux):

* Milvus Lite 3 is pure Python: pymilvus turns a ``*.db`` uri into a gRPC server run in
  *threads of this process*, bound to 127.0.0.1 on a free port, with the ``.db`` path
  used as a data *folder*. There is no subprocess to leak; an ``atexit`` hook stops the
  server and closes the data, and a killed process leaves nothing behind either (its
  lock is a ``flock``, dropped by the kernel).
* One process per ``.db``: the first to open it holds ``<uri>/LOCK``; a second process
  is refused (reported below as "another process has it open"). So ``rag chat`` and
  ``rag index`` cannot share a Lite file at the same time; use a Milvus server for that.
  Within a process the server is shared, and one ``MilvusClient`` per uri is cached.
* Opening takes about 0.6 s to import pymilvus and 0.2 s to start Lite on an empty
  file (1.7 s with loading 20k 384-d rows); a cached client then costs nothing.
* Lite is slow next to FAISS: publishing runs at about 3-7k rows a second (its Python
  write path, not ours), and a search scans every row in Python, 10-50 ms a query at
  20k rows against FAISS's 1 ms. It suits trying Milvus out; a server is for scale.
* No telemetry or usage reporting in either package. The only traffic is gRPC to the
  given uri (loopback for Lite) plus the Milvus protocol's own ``Connect`` call, which
  tells *that* server the SDK version and local time. Network code elsewhere (OpenAI and
  Cohere embedding/rerank functions, the "global-cluster" topology lookup, bulk-writer
  uploads) runs only when those features are asked for, and this module never does.
* Importing pymilvus loads into the environment the first ``.env`` file in a folder
  above its own (the project root, when the virtualenv is inside it; the current folder
  and up in a REPL, ``python -c`` or under a tracer such as coverage) and installs its
  own stderr log handlers, which print a traceback for every failed call; the import
  below turns off the first, and both libraries' loggers are quietened because each
  failure is raised as a ``RagError`` instead.
* gRPC is safe to call from many threads; Milvus Lite is not safe with two writers on
  one collection, so writes here take a process-wide lock.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import RagError

if TYPE_CHECKING:
    from pymilvus import MilvusClient

COLLECTION_PREFIX = "rag_"
TOKEN_ENV = "RAG_VECTOR_TOKEN"
# Rows per insert call: about 7.5 MB of 384-d vectors, well under gRPC's message limit.
BATCH_ROWS = 5_000
# Milvus refuses a search with more than this many results (or queries) per call.
MAX_TOPK = 16_384
# What FAISS puts in the score of a padding row; matched so callers see no difference.
PAD_SCORE = -np.finfo(np.float32).max

_ROW = "row"
_VECTOR = "vector"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")

_clients: dict[str, MilvusClient] = {}
_clients_lock = threading.Lock()  # two threads must not both start Lite for one file
_write_lock = threading.Lock()


def collection_name(build_id: str) -> str:
    """``20261201T233000-1a2b3c4d`` → ``rag_20261201T233000_1a2b3c4d`` (Milvus allows
    only letters, digits and underscores)."""
    return COLLECTION_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", build_id)


class MilvusStore:
    """Exact top-k inner-product search over one build's vectors in a Milvus collection."""

    def __init__(self, uri: str, collection: str, client: MilvusClient, size: int) -> None:
        self.uri = uri
        self.collection = collection
        self._client = client
        self._size = size

    @classmethod
    def publish(cls, uri: str, collection: str, vectors: np.ndarray) -> MilvusStore:
        """(Re)create ``collection`` holding ``vectors``, row i under primary key i."""
        _check_name(collection)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-D, got shape {vectors.shape}")
        count, dimension = vectors.shape
        DataType = _import_pymilvus().DataType
        client = _client(uri)
        with _write_lock, _errors(uri, f"publish collection {collection}"):
            if client.has_collection(collection):
                client.drop_collection(collection)
            schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field(_ROW, DataType.INT64, is_primary=True)
            schema.add_field(_VECTOR, DataType.FLOAT_VECTOR, dim=dimension)
            index = client.prepare_index_params()
            index.add_index(field_name=_VECTOR, index_type="FLAT", metric_type="IP")
            client.create_collection(collection, schema=schema, index_params=index)
            for start in range(0, count, BATCH_ROWS):
                batch = vectors[start : start + BATCH_ROWS]
                rows = [{_ROW: start + i, _VECTOR: vector} for i, vector in enumerate(batch)]
                client.insert(collection, rows)
            client.flush(collection)
            client.load_collection(collection)
        return cls(uri, collection, client, count)

    @classmethod
    def open(cls, uri: str, collection: str, expected_rows: int) -> MilvusStore | None:
        """The published collection, or None when it is missing or holds another count."""
        _check_name(collection)
        client = _client(uri)
        with _errors(uri, f"open collection {collection}"):
            if not client.has_collection(collection):
                return None
            if int(client.get_collection_stats(collection)["row_count"]) != expected_rows:
                return None
            client.load_collection(collection)
        return cls(uri, collection, client, expected_rows)

    @property
    def size(self) -> int:
        return self._size

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, rows)``, each ``(len(queries), k)``, best first; row -1 pads."""
        queries = np.atleast_2d(np.ascontiguousarray(queries, dtype=np.float32))
        scores = np.full((len(queries), k), PAD_SCORE, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        limit = min(k, self._size, MAX_TOPK)
        if limit <= 0 or not len(queries):
            return scores, rows
        with _errors(self.uri, f"search collection {self.collection}"):
            for start in range(0, len(queries), MAX_TOPK):
                results = self._client.search(
                    self.collection,
                    data=queries[start : start + MAX_TOPK],
                    limit=limit,
                    anns_field=_VECTOR,
                    search_params={"metric_type": "IP"},
                    # Without it Milvus Lite sends every hit's vector back.
                    output_fields=[_ROW],
                )
                for offset, hits in enumerate(results):
                    for rank, hit in enumerate(hits):
                        rows[start + offset, rank] = hit[_ROW]
                        scores[start + offset, rank] = hit["distance"]
        return scores, rows


def drop_collections_except(uri: str, prefix: str, keep: set[str]) -> list[str]:
    """Drop the collections named ``prefix…`` that are not in ``keep`` (older builds'
    copies), and return their names."""
    client = _client(uri)
    with _write_lock, _errors(uri, "drop old collections"):
        dropped = [
            name
            for name in client.list_collections()
            if name.startswith(prefix) and name not in keep
        ]
        for name in dropped:
            client.drop_collection(name)
    return dropped


def _client(uri: str) -> MilvusClient:
    """The one client of this process for ``uri``, connected on first use."""
    key = _uri_key(uri)
    with _clients_lock:
        if key in _clients:
            return _clients[key]
        MilvusClient = _import_pymilvus().MilvusClient
        token = os.environ.get(TOKEN_ENV)
        with _errors(uri, "connect"):
            if key.endswith(".db"):
                Path(key).parent.mkdir(parents=True, exist_ok=True)
            client = MilvusClient(uri=key, **({"token": token} if token else {}))
        _clients[key] = client
        return client


def _uri_key(uri: str) -> str:
    """A server url as given, a Lite file as its absolute path (one client per file)."""
    if uri.startswith(("http://", "https://")):
        return uri
    if uri.endswith(".db"):
        return str(Path(uri).expanduser().absolute())
    raise RagError(
        f"vector store {uri!r}: expected a path ending in .db (Milvus Lite) "
        "or an http(s)://host:port url (Milvus server)"
    )


def _import_pymilvus():
    """pymilvus, imported without its side effects on this process (module docstring)."""
    import logging

    disabled = "PYTHON_DOTENV_DISABLED" in os.environ
    os.environ.setdefault("PYTHON_DOTENV_DISABLED", "1")
    try:
        import pymilvus
    finally:
        if not disabled:
            del os.environ["PYTHON_DOTENV_DISABLED"]
    for name in ("pymilvus", "milvus_lite"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return pymilvus


@contextmanager
def _errors(uri: str, action: str) -> Iterator[None]:
    """Turn a pymilvus, gRPC or file failure into one ``RagError`` line naming the uri."""
    import grpc
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except (MilvusException, grpc.RpcError, OSError) as error:
        reason = getattr(error, "message", None) or str(error) or type(error).__name__
        if action == "connect" and uri.endswith(".db") and _lite_locked(_uri_key(uri)):
            reason = "another process has it open (Milvus Lite allows one process per file)"
        shown = re.sub(r"//[^/@]*@", "//", uri)  # no password in a message
        raise RagError(f"Milvus at {shown}: cannot {action}: {_one_line(reason)}") from error


def _check_name(collection: str) -> None:
    """Refuse a name a Milvus server would (Lite accepts some, e.g. ``1abc``)."""
    if not _NAME.fullmatch(collection):
        raise RagError(
            f"bad Milvus collection name {collection!r}: use letters, digits and "
            "underscores, starting with a letter or underscore"
        )


def _lite_locked(path: str) -> bool:
    """Whether another process holds the Lite lock on ``path`` (it refuses us with a bare
    "Open local milvus failed")."""
    try:
        import fcntl
    except ImportError:  # Windows: no way to tell; keep pymilvus's reason
        return False
    lock = Path(path) / "LOCK"
    if not lock.exists():
        return False
    with open(lock, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:300]
