"""`weekly-er-tui web`'s flags: a bad one is exit 2 and one line naming the flag, the value and
the fix, never a traceback; a public bind makes its token file owner-only, prints where it is
and warns that the page carries account data; SIGTERM stops it cleanly."""

from __future__ import annotations

import io
import signal
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from weekly_er_tui import cli
from weekly_er_tui.control.web_sessions import web_session_event


def web(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["web", *args], out=out, err=err)
    return code, err.getvalue()


def one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)


def test_a_port_in_use_names_the_flag_and_the_fix(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = web("--data-dir", str(tmp_path), "--port", str(port))
    one_line_error(code, err, f"--port {port}", "already in use", "--port N")


def test_a_host_that_does_not_resolve_or_is_not_ours(tmp_path: Path) -> None:
    # Checked before any lookup: no name server is asked.
    code, err = web("--data-dir", str(tmp_path), "--host", "not a host",
                    "--token-file", str(tmp_path / "t"))
    one_line_error(code, err, "--host 'not a host'", "not an IP address or a host name",
                   "127.0.0.1", "0.0.0.0")
    code, err = web("--data-dir", str(tmp_path), "--host", "192.0.2.254", "--port", "0",
                    "--token-file", str(tmp_path / "t"))
    one_line_error(code, err, "--host 192.0.2.254", "not an address of this machine")


def test_a_token_file_others_can_read_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("x" * 40 + "\n")
    token.chmod(0o644)
    code, err = web("--data-dir", str(tmp_path), "--token-file", str(token))
    one_line_error(code, err, f"--token-file {token}", "0644", f"chmod 600 {token}")


def test_a_token_file_that_is_no_token(tmp_path: Path) -> None:
    code, err = web("--data-dir", str(tmp_path), "--token-file", str(tmp_path))
    one_line_error(code, err, f"--token-file {tmp_path}", "is a directory")
    short = tmp_path / "short"
    short.write_text("abc\n")
    short.chmod(0o600)
    code, err = web("--data-dir", str(tmp_path), "--token-file", str(short))
    one_line_error(code, err, f"--token-file {short}", "no usable token", "delete the file")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00" * 10)
    binary.chmod(0o600)
    code, err = web("--data-dir", str(tmp_path), "--token-file", str(binary))
    one_line_error(code, err, f"--token-file {binary}", "cannot be read")


def test_a_port_out_of_range_is_refused_by_the_flag() -> None:
    result = subprocess.run([sys.executable, "-m", "weekly_er_tui.cli", "web", "--port",
                             "70000"], capture_output=True, text=True, timeout=60)
    one_line_error(result.returncode, result.stderr, "--port", "70000", "0 to 65535")


@pytest.mark.parametrize("flags", [["--host", "0.0.0.0"], ["--allow-control"]],
                         ids=["public-bind", "allow-control-on-loopback"])
def test_a_public_bind_or_control_makes_the_token_warns_and_refuses_a_request_without_it(
    tmp_path: Path, flags: list[str],
) -> None:
    data = tmp_path / "data"
    server = subprocess.Popen(
        [sys.executable, "-m", "weekly_er_tui.cli", "web", "--data-dir", str(data), *flags,
         "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        first = [server.stdout.readline() for _ in range(3)]
        token_file = data / "state" / "web_token"
        assert "WARNING: this page carries the account's data" in first[1]
        assert f"Every request needs the token in {token_file} (made now, mode 0600)" in first[2]
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 40 and token not in "".join(first)
        port = int(first[0].split(" on http://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        if "--allow-control" in flags:
            assert "WITH CONTROL" in first[0] and "flatten asks its confirmation" in first[0]
        # Bound to every interface, the loopback is no exception; with control, neither.
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/static/css/xterm.css", timeout=10)
            raise AssertionError("served without the token")
        except urllib.error.HTTPError as refused:
            assert refused.code == 403
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/css/xterm.css?token={token}",
                                    timeout=10) as ok:
            assert ok.status == 200
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
        assert server.returncode == 0, err
        assert "stopped (the engine goes on)" in out and "Traceback" not in err
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_the_engine_journals_only_well_formed_web_sessions() -> None:
    message, details = web_session_event(
        {"event": "start", "session": "ab12cd34", "peer": "10.0.0.5", "control": False})
    assert message == ("Web session ab12cd34 started: a browser at 10.0.0.5 opened the cockpit, "
                       "read-only")
    assert details == {"session": "ab12cd34", "peer": "10.0.0.5", "control": False}
    message, _ = web_session_event({"event": "end", "session": "ab12cd34", "peer": "::1",
                                    "control": True, "seconds": 61.4})
    assert message == ("Web session ab12cd34 ended: the browser at ::1 left after 61 s "
                       "(with control (--allow-control))")
    for bad, field in (({"event": "open"}, "event"),
                       ({"event": "start", "session": "x;rm"}, "session"),
                       ({"event": "start", "session": "ab", "peer": "a\nb"}, "peer"),
                       ({"event": "end", "session": "ab", "peer": "p", "seconds": -1}, "seconds")):
        try:
            web_session_event(bad)
        except ValueError as exc:
            assert f"web_session: {field}" in str(exc)
        else:
            raise AssertionError(f"accepted {bad}")
