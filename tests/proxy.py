"""A loopback TCP proxy a test can stop and start: a storage server going away mid-upload."""

from __future__ import annotations

import contextlib
import socket
import threading


class Proxy:
    """Forwards 127.0.0.1:port to a target port; `stop()` refuses new connections and cuts live ones."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._budget: int | None = None  # request bytes still let through before the cut

    def cut_after(self, request_bytes: int) -> None:
        """Stop (as `stop()`) once this many more request bytes reach the server: a cut mid-object."""
        with self._lock:
            self._budget = request_bytes

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.extend([client, upstream])
            for a, b, request in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, request), daemon=True).start()

    def _take(self, data: bytes) -> tuple[bytes, bool]:
        """The part of a request chunk within the budget, and whether the budget is now spent."""
        with self._lock:
            if self._budget is None:
                return data, False
            allowed = data[: self._budget]
            self._budget -= len(allowed)
            spent = self._budget <= 0
            if spent:
                self._budget = None
            return allowed, spent

    def _pipe(self, source: socket.socket, sink: socket.socket, request: bool) -> None:
        try:
            while data := source.recv(65536):
                data, spent = self._take(data) if request else (data, False)
                sink.sendall(data)
                if spent:
                    self.stop()
                    return
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
