"""The instance handshake of PyTriton's model stubs, patched to wait for a server not yet listening.

A second instance of a model asks the first for its configuration over a Unix socket. The socket
file appears when the first instance binds it, a moment before it listens: a connection in
between is refused. PyTriton's own code then fails the model; the copy ``serve`` patches waits.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (the server extra)")

from acts_gnn.triton.server import patch_handshake


def _communication_copy(store: Path) -> Path:
    import pytriton.proxy

    target = store / "gnn_tracking" / "1" / "communication.py"
    target.parent.mkdir(parents=True)
    shutil.copy(Path(pytriton.proxy.__file__).parent / "communication.py", target)
    return target


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bound_then_listening(path: Path, delay_s: float) -> threading.Thread:
    """A server socket bound at ``path`` now, listening after ``delay_s``, answering once."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))

    def serve() -> None:
        time.sleep(delay_s)
        server.listen(1)
        server.settimeout(10)
        try:
            connection, _ = server.accept()
        except OSError:  # nobody came (the unpatched client gave up)
            server.close()
            return
        with connection:
            assert connection.recv(64) == b"get_config\n"
            payload = b'{"instance": 0}'
            connection.sendall(len(payload).to_bytes(4, "big") + payload)
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_the_patched_copy_waits_for_the_server_to_listen(tmp_path):
    original = _load(_communication_copy(tmp_path / "plain"), "plain_communication")
    copy = _communication_copy(tmp_path / "store")
    assert patch_handshake(tmp_path / "store") == 1
    assert "acts-gnn: retried" in copy.read_text()
    patched = _load(copy, "patched_communication")

    # PyTriton's own: refused at once while the server is bound but not listening
    socket_path = tmp_path / "a.sock"
    thread = _bound_then_listening(socket_path, 0.5)
    with pytest.raises(ConnectionRefusedError):
        original.get_config_from_handshake_server(socket_path, timeout_s=5.0)
    thread.join()

    # the patched copy tries again until the server listens, and gets the configuration
    socket_path = tmp_path / "b.sock"
    thread = _bound_then_listening(socket_path, 0.5)
    assert patched.get_config_from_handshake_server(socket_path, timeout_s=5.0) == {"instance": 0}
    thread.join()


def test_the_patch_waits_longer_by_default_and_leaves_other_files_alone(tmp_path):
    copy = _communication_copy(tmp_path)
    patch_handshake(tmp_path)
    assert "timeout_s: float = 60.0" in copy.read_text()
    # patched once: a second pass finds nothing left to change
    assert patch_handshake(tmp_path) == 0
    other = tmp_path / "m" / "1" / "communication.py"
    other.parent.mkdir(parents=True)
    other.write_text("# another PyTriton\n")
    assert patch_handshake(tmp_path) == 0
    assert other.read_text() == "# another PyTriton\n"


def test_the_stub_answers_a_refusal_with_its_line_and_invalid_arg(tmp_path):
    from acts_gnn.triton.server import patch_refusals

    copy = tmp_path / "store" / "m" / "1" / "model.py"
    copy.parent.mkdir(parents=True)
    # the stub's own module (it imports Triton's backend utilities: found, not imported)
    shutil.copy(importlib.util.find_spec("pytriton.proxy.model").origin, copy)
    assert patch_refusals(tmp_path / "store") == 1
    text = copy.read_text()
    assert "pb_utils.TritonError.INVALID_ARG" in text
    compile(text, str(copy), "exec")  # still Python
    # patched once; another PyTriton's file is left alone
    assert patch_refusals(tmp_path / "store") == 0
    other = tmp_path / "store" / "n" / "1" / "model.py"
    other.parent.mkdir(parents=True)
    other.write_text("# another PyTriton\n")
    assert patch_refusals(tmp_path / "store") == 0
    assert other.read_text() == "# another PyTriton\n"
