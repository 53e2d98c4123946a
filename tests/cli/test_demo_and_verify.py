"""`trace demo` tells the story; `trace verify` and `trace qr` on its codes: exit 0 genuine, 6 not verified."""

import csv
import json
from pathlib import Path

from qr import decode, digital_link, sign_uri
from tests.conftest import run_trace
from trace_api.chain.accounts import dev_account
from trace_api.services.demo import GREEN, READINGS, ROASTED, UNITS


def test_demo_summary(demo_env) -> None:
    _, summary = demo_env
    assert summary["hash_chains_ok"] is True
    assert summary["events_verified"] == summary["events_total"]
    # green: register + 4 lifecycle + 1000 readings + 3 transformations (the shop's roast, two export lots);
    # roasted: transformation + units + 3 steps
    assert summary["batches"]["green"]["events"] == 4 + READINGS + 3
    assert summary["batches"]["roasted"]["events"] == 1 + len(UNITS) + 3
    assert Path(summary["label"]["file"]).is_file()
    export = summary["export_trade"]
    assert (export["incoterm"], export["place"], export["token"]) == ("DAP", "CNSHA", "USDC")
    assert export["invoice"]["currency"] == "CNY" and len(export["trade_ids"]) == 2
    for path in export["statements"]:  # written beside the QR label, with the CNY amounts at the recorded rate
        rows = list(csv.DictReader(Path(path).read_text().splitlines()))
        assert Path(path).parent == Path(summary["label"]["file"]).parent
        funded = [r for r in rows if r.get("movement") == "funded"]
        assert funded and all(r["invoice_currency"] == "CNY" and float(r["invoice_amount"]) > 0 for r in funded)


def test_demo_is_idempotent(demo_env) -> None:
    env, summary = demo_env
    again = run_trace("demo", "--no-serve", "--json", env=env)
    assert again.code == 0, again.stderr
    assert json.loads(again.stdout)["contracts"] == summary["contracts"]
    assert json.loads(again.stdout)["events_total"] == summary["events_total"]


def _verify(env, *args: str):
    return run_trace("verify", *args, env=env)


def test_verify_image_of_the_signed_label(demo_env) -> None:
    env, summary = demo_env
    result = _verify(env, summary["label"]["file"], "--json")
    assert result.code == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["genuine"] is True
    assert {c["check"] for c in verdict["checks"]} == {
        "batch",
        "hash chain",
        "events",
        "timeline",
        "recall",
        "unit",
        "signature",
    }


def test_verify_failures_exit_6_with_a_reason(demo_env, tmp_path: Path) -> None:
    env, summary = demo_env
    unknown = _verify(env, digital_link.unit_uri(*ROASTED, "B9999"))
    assert unknown.code == 6 and unknown.stderr.strip() == "trace: error: unit: serial B9999 was never issued"
    forged = sign_uri(digital_link.unit_uri(*ROASTED, UNITS[0]), dev_account("buyer").key)
    bad_sig = _verify(env, forged)
    assert bad_sig.code == 6 and "signature" in bad_sig.stderr and "did not register this batch" in bad_sig.stderr
    never = _verify(env, digital_link.batch_uri("09506000134376", "NOPE"))
    assert never.code == 6 and "is not on chain" in never.stderr
    offline_ok = _verify(
        env, summary["label"]["signed_uri"], "--offline", "--producer", dev_account("processor").address
    )
    assert offline_ok.code == 0, offline_ok.stderr
    offline_bad = _verify(
        env, summary["label"]["signed_uri"], "--offline", "--producer", dev_account("producer").address
    )
    assert offline_bad.code == 6


def test_qr_make_and_sheet(demo_env, tmp_path: Path) -> None:
    env, _ = demo_env
    png, svg = tmp_path / "bag.png", tmp_path / "bag.svg"
    # A label for this machine's server is refused unless asked for: no phone can reach 127.0.0.1.
    local = run_trace("qr", "make", *ROASTED, UNITS[2], "-o", str(png), env=env)
    assert local.code == 3 and "no phone can reach" in local.stderr and not png.exists()
    made = run_trace(
        "qr",
        "make",
        *ROASTED,
        UNITS[2],
        "-o",
        str(png),
        "--sign",
        "--as",
        "processor",
        "--allow-local",
        "--json",
        env=env,
    )
    assert made.code == 0, made.stderr
    scanned = decode(png)
    assert scanned.startswith(digital_link.unit_uri(*ROASTED, UNITS[2]) + "#sig=0x")
    assert json.loads(made.stdout)["signed_uri"] == scanned  # the signed link, without decoding the image
    assert _verify(env, str(png)).code == 0
    public = run_trace(
        "qr", "make", *GREEN, "-o", str(svg), "--json", env={**env, "TRACE_PUBLIC_URL": "https://id.example.com"}
    )
    assert public.code == 0 and json.loads(public.stdout)["uri"].startswith("https://id.example.com/01/")
    assert svg.read_text().lstrip().startswith("<svg")
    sheet = tmp_path / "labels.pdf"
    result = run_trace(
        "qr",
        "sheet",
        *ROASTED,
        "--serials",
        "B0001-B0024",
        "-o",
        str(sheet),
        "--json",
        "--domain",
        "https://id.example.com",
        env=env,
    )
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["labels"] == 24
    assert sheet.read_bytes().count(b"/Type /Page\n") + sheet.read_bytes().count(b"/Type /Page ") >= 1
    bad = run_trace("qr", "make", "09506000134353", "L", "-o", str(png), "--allow-local", env=env)
    assert bad.code == 1 and "invalid check digit" in bad.stderr
