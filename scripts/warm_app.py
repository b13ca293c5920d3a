"""Open one session of a freshly started app so that the first visitor's deep link works.

Streamlit's client checks a requested page against the page list the server sends with a new session, and a
fresh server knows the pages an ``st.navigation`` app declares only after its script has run once: until then a
visitor who opens a deep link (``/classify``) first sees "Page not found" over the right page. ``run_app.sh``
starts this script beside the server: it waits for the health endpoint, runs the app's main page once over the
app's own websocket (as a browser would) and exits. It prints one line to stderr; it never stops the server.

    .venv/bin/python scripts/warm_app.py [streamlit run options, e.g. --server.port 8502]
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request

DEFAULT_PORT = 8501


def port_of(args: list[str]) -> int:
    """The ``--server.port`` among ``streamlit run`` options (``--server.port N`` or ``--server.port=N``)."""
    for i, arg in enumerate(args):
        if arg == "--server.port" and i + 1 < len(args):
            return int(args[i + 1])
        if arg.startswith("--server.port="):
            return int(arg.split("=", 1)[1])
    return DEFAULT_PORT


def wait_healthy(port: int, seconds: float = 180.0) -> bool:
    """Whether the server's health endpoint answered within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.5)
    return False


def warm(port: int, seconds: float = 180.0) -> int:
    """Run the app's main page once in a session of its own; returns the messages the run sent."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    request = BackMsg()
    request.rerun_script.query_string = ""
    request.rerun_script.page_script_hash = ""
    request.rerun_script.page_name = ""
    count = 0
    deadline = time.monotonic() + seconds
    with connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"], max_size=None) as socket:
        socket.send(request.SerializeToString())
        while time.monotonic() < deadline:
            message = ForwardMsg()
            message.ParseFromString(socket.recv(timeout=max(1.0, deadline - time.monotonic())))
            count += 1
            if message.WhichOneof("type") == "script_finished":
                break
    return count


def main(args: list[str]) -> int:
    port = port_of(args)
    if not wait_healthy(port):
        print(f"warm_app: no app answered on port {port}; nothing warmed", file=sys.stderr)
        return 1
    try:
        count = warm(port)
    except Exception as error:  # the app serves anyway; only the first deep link may show "Page not found"
        print(f"warm_app: could not open a session on port {port} ({error})", file=sys.stderr)
        return 1
    print(f"warm_app: the app's pages are known on port {port} ({count} messages)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
