"""`trace verify` on codes it cannot check: exit 1 with one line on stderr, never a traceback or a bare ValueError."""

import pytest

from tests.conftest import run_trace

PRODUCER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        # Valid Digital Link URIs whose key is not a GTIN: the old parser crashed on them with a bare ValueError.
        ("https://example.com/8004/9520614141234567?01=09520123456788", "identifies AI 8004 9520614141234567"),
        ("https://id.gs1.org/414/9520123456788?01=09506000134369", "identifies AI 414 9520123456788"),
        ("https://id.gs1.org/01/9506000134352/10/L1", "in /01/ must have 14 digits"),
        ("https://id.gs1.org/01/09506000134352/10/L1?89=1", "query parameter 89 is not a GS1 data attribute AI"),
    ],
)
def test_bad_code_exits_1_with_one_line(code: str, message: str, tmp_path) -> None:
    # --offline needs no chain; a bad code is refused before any node would start anyway.
    result = run_trace("verify", code, "--offline", "--producer", PRODUCER, env={"TRACE_HOME": str(tmp_path)})
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trace: error: ") and message in lines[0]
    assert "ValueError" not in result.stderr and "Traceback" not in result.stderr


def test_bad_code_online_starts_no_node(tmp_path) -> None:
    result = run_trace("verify", "https://id.gs1.org/01/9506000134352/10/L1", env={"TRACE_HOME": str(tmp_path)})
    assert result.code == 1 and "must have 14 digits" in result.stderr
    assert not any(tmp_path.iterdir()), "no node state, no deployment: nothing was started or written"
