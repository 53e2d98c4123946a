"""`trace batch show` tells the same journey as the scan page: the batch and every batch it was made from."""

from __future__ import annotations

from tests.conftest import run_trace, trace_ok
from trace_api.services.demo import GREEN, ROASTED


def test_batch_show_tells_the_whole_journey(demo_env) -> None:
    env, _ = demo_env
    data = trace_ok(env, "batch", "show", *ROASTED)
    groups = data["journey"]["groups"]
    assert [(g["gtin"], g["lot"]) for g in groups] == [GREEN, ROASTED]
    assert data["journey"]["steps"] == data["journey"]["verified_steps"] == 8  # no unit serial: its bags are a count
    shown = run_trace("batch", "show", *ROASTED, env=env)
    assert shown.code == 0, shown.stderr
    out = shown.stdout
    assert f"made from: Arabica green coffee {GREEN[0]}/{GREEN[1]}" in out
    assert f"this batch: Huila medium roast, whole bean {ROASTED[0]}/{ROASTED[1]}" in out
    assert out.index("made from") < out.index("this batch")  # farm first
    assert "Andes Organic Certification Ltda (CO) ✓ verified" in out
    assert "Organic certificate (EU 2018/848) hash verified (valid until 2027-11-30)" in out
    assert "Finca La Esperanza, Huila (CO) (GLN 9506000134000)" in out
    assert "Temperature: 1000 readings, 17.5–19.1 °C; allowed 15–25 °C, 0 outside" in out
    assert "sensor_reporting" not in out  # summarised, not 1,000 rows
