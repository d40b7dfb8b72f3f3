"""W2's upstream: a small HTTP/1.1 keep-alive server on 127.0.0.1 that answers every request with
a little JSON after waiting a fixed time (20 ms), counted from the moment it has read the
request's head. One thread per connection, each sleeping with `time.sleep` (nanosleep, accurate
to tens of µs); asyncio's timers go through epoll's millisecond timeout and would wake up to 1 ms
late, which is the whole of W2's margin. At W2's rate (a few hundred upstream calls a second at
most) the threads hold it easily; the same server answers smoke mode's checks.

The answer is `{"path": "<request path>", "waitedMs": 20}`, so a caller can tell which of its
calls each answer belongs to."""
import ctypes
import json
import socket
import threading
import time

from common import log

PR_SET_TIMERSLACK = 29
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def _tight_timers():
    """This thread's timer slack from the default 50 µs to 1 ns: its sleeps end on time."""
    if _prctl is not None:
        _prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)


class DelayUpstream:
    def __init__(self, delay_s=0.020):
        self.delay_s = delay_s
        self.connections = self.requests = 0
        self.late_s = []  # per answer: how much later than the delay it was sent (the server's own lateness)
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(256)
        self.port = self._sock.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, name="delay-accept", daemon=True).start()
        log(f"W2's upstream (waits {delay_s * 1000:.0f} ms, then answers JSON) on 127.0.0.1:{self.port}")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _accept(self):
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        _tight_timers()
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head_end = buf.index(b"\r\n\r\n") + 4
                arrived = time.monotonic()
                head = buf[:head_end].decode("latin-1")
                lines = head.split("\r\n")
                parts = lines[0].split(" ")
                path = parts[1] if len(parts) > 1 else "/"
                length, close = 0, False
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    name, value = name.strip().lower(), value.strip().lower()
                    if name == "content-length":
                        length = int(value or 0)
                    elif name == "connection" and value == "close":
                        close = True
                    elif name == "transfer-encoding":  # not expected from Sluice's GETs
                        close = True
                while len(buf) < head_end + length:  # a body, if any, is read and ignored
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                buf = buf[head_end + length:]
                body = json.dumps({"path": path.split("?", 1)[0], "waitedMs": round(self.delay_s * 1000)}).encode()
                answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                          + str(len(body)).encode() + (b"\r\nConnection: close" if close else b"")
                          + b"\r\n\r\n" + body)
                wait = arrived + self.delay_s - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                conn.sendall(answer)
                late = time.monotonic() - arrived - self.delay_s
                with self._lock:
                    self.requests += 1
                    if len(self.late_s) < 100_000:
                        self.late_s.append(late)
                if close:
                    return
        except (OSError, ValueError):
            return
        finally:
            conn.close()

    def stop(self):
        self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        try:
            self._sock.close()
        except OSError:
            pass
