"""Reading the next batch of a file while the current one is being loaded.

The importer's two halves wait on different things: reading and validating a batch is Polars
work on the client, loading it is mostly the database server's work (``COPY``), during which the
client waits on the socket. Both release the GIL, so :class:`ReadAhead` runs the batch iterator
in a background thread, **at most one batch ahead** of the consumer (memory stays bounded: the
batch being loaded plus the next one). Batches come out in the file's order; an exception raised
by the iterator (such as ``ProblemsFound`` for a file-level problem) is raised in the consumer at
the point where the batch would have come, so the caller's handling does not change.

The background thread only reads the file: it never touches the import's connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from queue import SimpleQueue
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

_END = object()


class _Raised:
    """An exception of the iterator, carried to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class ReadAhead(Generic[T]):
    """``with ReadAhead(batches) as ahead: for batch in ahead: ...``: ``batches``, one ahead."""

    def __init__(self, batches: Iterator[T]) -> None:
        self._batches = batches
        self._out: SimpleQueue[object] = SimpleQueue()
        self._slot = threading.Semaphore(1)  # the one batch the reader may read ahead
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="arrears-read-ahead", daemon=True)

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        return self._take()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._slot.release()  # wake the reader if it waits for a slot
        self._thread.join()
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()

    def _read(self) -> None:
        try:
            while True:
                self._slot.acquire()
                if self._stop.is_set():
                    return
                try:
                    item = next(self._batches)
                except StopIteration:
                    self._out.put(_END)
                    return
                self._out.put(item)
        except BaseException as error:  # carried to the consumer, raised there
            self._out.put(_Raised(error))

    def _take(self) -> Iterator[T]:
        while True:
            item = self._out.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.error
            self._slot.release()  # the reader may read the next batch while this one loads
            yield item  # type: ignore[misc]
