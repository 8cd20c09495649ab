"""A TCP forwarder on 127.0.0.1 whose far side a test can take away and bring back.

It lets a test take "the database" or "Keycloak" away from one gateway without touching the
shared service. While down it still accepts connections and closes them at once, counting
each (one attempt by the client to reach the service); ``cut()`` also stops listening, so
connections are refused. While up it forwards, counting the requests whose bytes contain
``marker`` (the path of interest), when one is given.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``host:target_port``."""

    def __init__(self, target_port: int, *, host: str = "127.0.0.1", marker: bytes = b"") -> None:
        self.target = (host, target_port)
        self.marker = marker
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.up = True
        self.marked_requests = 0
        self.refused_attempts = 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                if not self.up:
                    self.refused_attempts += 1
                    client.close()
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if not self.up:  # taken down while connecting
                    client.close()
                    upstream.close()
                    continue
                self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if outbound and self.marker and self.marker in data:
                    with self._lock:
                        self.marked_requests += data.count(self.marker)
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def take_down(self) -> None:
        """Drop every forwarded connection; from now on connections are closed at once."""
        with self._lock:
            self.up = False
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def bring_back(self) -> None:
        with self._lock:
            self.up = True

    def cut(self) -> None:
        """Drop every connection and stop listening: later connections are refused."""
        self.take_down()
        self.listener.close()

    def close(self) -> None:
        self.cut()
