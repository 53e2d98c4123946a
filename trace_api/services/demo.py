"""The end-to-end story `make demo` tells: a coffee batch from farm to shelf, verified on chain."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qr import digital_link, render, signing
from trace_api.chain import node
from trace_api.chain.accounts import dev_account
from trace_api.chain.client import connect
from trace_api.config import Settings
from trace_api.domain import batch_key
from trace_api.services import anchoring, batches, escrow, history, importer, orgs, units
from trace_api.services.context import TraceContext
from trace_api.services.demo_models import DemoBatch, DemoLabel, DemoSummary, ExportTrade
from trace_api.services.deploy import deploy, refresh_dev_feeds
from trace_api.services.escrow import statements
from trace_api.services.escrow.terms import OrderLine

GREEN = ("09506000134352", "HUILA-2026-11")
ROASTED = ("09506000134369", "ROAST-2026-11-A")
FARM_GLN, ROASTERY_GLN, SHOP_GLN, LAB_GLN = "9506000134000", "9506000134017", "9506000134024", "9506000134031"
READINGS = 1000
UNITS = [f"B{i:04d}" for i in range(1, 25)]
TRADE_AMOUNT = "12500.00"
# The export: a Shanghai importer buys two roasted lots, DAP Shanghai, invoiced in CNY and settled in USDC.
EXPORT_LOTS = (("09506000134369", "ROAST-2026-11-CN1", "60000.00"), ("09506000134369", "ROAST-2026-11-CN2", "40000.00"))
EXPORT_INVOICE = ("100000.00", "CNY")
PLACES = {
    FARM_GLN: "Finca La Esperanza, Huila (CO)",
    ROASTERY_GLN: "Roastery, Rotterdam (NL)",
    SHOP_GLN: "Corner Coffee Shop, Amsterdam (NL)",
    LAB_GLN: "Organic certification lab, Bogotá (CO)",
}

Say = Callable[[str], None]

# Every party of the story, as the registry admin vouches for it (OrgDirectory).
ORGANISATIONS = {
    "producer": ("Finca La Esperanza SAS", "CO", (FARM_GLN,), "https://finca-la-esperanza.example"),
    "inspector": ("Andes Organic Certification Ltda", "CO", (LAB_GLN,), "https://andes-organic.example"),
    "processor": ("Rotterdam Roasters BV", "NL", (ROASTERY_GLN,), "https://rotterdam-roasters.example"),
    "carrier": ("Atlantic Reefer Lines BV", "NL", (), "https://atlantic-reefer.example"),
    "retailer": ("Corner Coffee Shop BV", "NL", (SHOP_GLN,), "https://corner-coffee.example"),
    "buyer": ("Shanghai Bean Imports Co., Ltd.", "CN", (), "https://shanghai-bean-imports.example"),
}


def _certificate(settings: Settings) -> Path:
    path = settings.home / "demo" / "organic-certificate.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(
            "ORGANIC CERTIFICATE\nOperator: Finca La Esperanza, Huila, Colombia\n"
            f"Lot: {GREEN[1]} (GTIN {GREEN[0]})\nStandard: EU 2018/848\nValid until: 2027-11-30\n"
        )
    return path


def _readings(start: dt.datetime) -> list[dict[str, Any]]:
    key = batch_key(*GREEN)
    events = []
    for i in range(READINGS):
        when = (start + dt.timedelta(minutes=5 * i)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        events.append(
            {
                "type": "ObjectEvent",
                "eventTime": when,
                "eventTimeZoneOffset": "+00:00",
                "action": "OBSERVE",
                "bizStep": "sensor_reporting",
                "quantityList": [{"epcClass": key.epc_class}],
                "readPoint": {"id": f"https://id.gs1.org/414/{ROASTERY_GLN}"},
                "sensorElementList": [
                    {"sensorReport": [{"type": "Temperature", "value": round(17.5 + (i % 17) * 0.1, 2), "uom": "CEL"}]}
                ],
            }
        )
    return events


def run_story(
    settings: Settings,
    *,
    say: Say = lambda _: None,
    domain: str = digital_link.DEFAULT_DOMAIN,
) -> DemoSummary:
    node.allow_autostart(settings)  # the demo brings the chain up, even after a `trace node stop`
    chain = connect(settings)
    result = deploy(chain=chain, account=dev_account("admin"))
    say(
        ("deployed" if result.deployed else "found deployment")
        + f" on chain {chain.chain_id}: "
        + ", ".join(f"{n} {d.address}" for n, d in result.deployment.contracts.items())
    )
    ctx = TraceContext.on(settings, chain)
    producer, processor = dev_account("producer"), dev_account("processor")
    inspector, retailer = dev_account("inspector"), dev_account("retailer")
    g, gl = GREEN
    if ctx.chain.view(ctx.chain.ref("TraceRegistry"), "exists", batch_key(g, gl).id):
        say("the story already ran on this chain; showing it again")
    else:
        # The story spans the last two weeks: event times are when things happened (EPCIS eventTime).
        t0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=14)

        def at(days: float) -> str:
            return (t0 + dt.timedelta(days=days)).isoformat(timespec="milliseconds").replace("+00:00", "Z")

        for name, (legal_name, country, glns, website) in ORGANISATIONS.items():
            orgs.register(
                ctx,
                signer=dev_account("admin"),
                account=dev_account(name).address,
                profile=orgs.OrgProfile(legal_name=legal_name, country=country, glns=glns, website=website),
            )
        say("the registry admin vouched for the " + str(len(ORGANISATIONS)) + " organisations of the story")
        batches.register_batch(
            ctx,
            account=producer,
            gtin=g,
            lot=gl,
            quantity="1200",
            uom="KGM",
            metadata={
                "product": "Arabica green coffee",
                "origin": "Finca La Esperanza, Huila, Colombia",
                "places": PLACES,
                "limits": {"Temperature": {"min": 15, "max": 25, "uom": "CEL"}},
            },
        )
        say(f"registered green coffee {g}/{gl} at the farm")
        batches.record_event(
            ctx, source="demo", account=producer, gtin=g, lot=gl, step="commissioning", gln=FARM_GLN, when=at(0)
        )
        batches.record_event(
            ctx,
            source="demo",
            account=inspector,
            gtin=g,
            lot=gl,
            step="inspecting",
            gln=LAB_GLN,
            doc=_certificate(settings),
            when=at(1),
            doc_details={
                "type": "Organic certificate (EU 2018/848)",
                "issuer": "Andes Organic Certification Ltda",
                "valid_from": at(1)[:10],
                "valid_until": "2027-11-30",
            },
        )
        say("commissioned; inspected with an organic certificate (SHA-256 in the event)")
        batches.record_event(
            ctx,
            source="demo",
            account=producer,
            gtin=g,
            lot=gl,
            step="shipping",
            gln=FARM_GLN,
            to="processor",
            when=at(2),
        )
        batches.record_event(
            ctx, source="demo", account=processor, gtin=g, lot=gl, step="receiving", gln=ROASTERY_GLN, when=at(9)
        )
        say("shipped to the roastery and received there")
        report = importer.import_events(
            ctx,
            account=processor,
            events=_readings(t0 + dt.timedelta(days=9, hours=1)),
            name="demo-readings",
            source="demo",
            batch_size=READINGS,
        )
        say(
            f"anchored {report.new_events} temperature readings of the warehouse under "
            f"{report.anchored_roots} Merkle root"
        )
        rg, rl = ROASTED
        batches.derive_batch(
            ctx,
            source="demo",
            account=processor,
            gtin=rg,
            lot=rl,
            parents=[GREEN],
            quantity="1000",
            uom="KGM",
            when=at(12.6),
            process="roasting",
            metadata={
                "product": "Huila medium roast, whole bean",
                "origin": "Roasted in Rotterdam from Huila green coffee",
                "places": PLACES,
            },
        )
        # The shop buys the roast across the border: 12,500.00 USDC in escrow, 30 % on shipment, 70 % on delivery.
        trade = escrow.open_trade(
            ctx,
            account=retailer,
            order=escrow.TradeOrder(
                seller="processor",
                arbiter="arbiter",
                token="USDC",
                amount=TRADE_AMOUNT,
                gtin=rg,
                lot=rl,
                deliver_by="30d",
                milestones=escrow.Milestones.of(3000, 7000),
            ),
        )
        trade_id = trade.trade_id
        say(f"the shop locked {TRADE_AMOUNT} USDC in escrow (trade {trade_id}, {trade.funding})")
        batches.record_event(
            ctx,
            source="demo",
            account=processor,
            gtin=rg,
            lot=rl,
            step="shipping",
            gln=ROASTERY_GLN,
            to="retailer",
            when=at(13),
        )
        shipped = escrow.release(ctx, account=processor, trade_id=trade_id)
        batches.record_event(
            ctx, source="demo", account=retailer, gtin=rg, lot=rl, step="receiving", gln=SHOP_GLN, when=at(13.5)
        )
        delivered = escrow.release(ctx, account=processor, trade_id=trade_id)
        paid = escrow.withdraw(ctx, account=processor, token="USDC")
        say(
            f"escrow released {shipped.released} USDC on shipment and {delivered.released} on delivery; "
            f"the roaster withdrew {paid.withdrawals[0].amount} USDC"
        )
        batches.record_event(
            ctx, source="demo", account=retailer, gtin=rg, lot=rl, step="retail_selling", gln=SHOP_GLN, when=at(13.6)
        )
        units.commission_units(ctx, account=processor, gtin=rg, lot=rl, serials=UNITS, gln=ROASTERY_GLN, when=at(12.7))
        _export(ctx, at, say)
        anchoring.anchor(ctx, account=processor)  # the export lots' events too
        say(f"roasted into {rg}/{rl} ({len(UNITS)} bags with serials), shipped to the shop, on the shelf")
    label = settings.home / "demo" / "bag-1.png"
    uri = signing.sign_uri(digital_link.unit_uri(*ROASTED, UNITS[0], domain=domain), processor.key)
    render.render_png(uri, label)
    say(f"QR label of bag 1, signed by the roaster: {label}")
    trades = [t.model_dump(mode="json") for t in escrow.list_trades(ctx)]
    export = _export_trade(ctx)
    if export is not None:  # the importer's books: one statement per line of the order, beside the label
        written = []
        for trade_id in export.trade_ids:
            path = label.parent / f"statement-trade-{trade_id}.csv"
            path.write_bytes(statements.render(statements.statement(ctx, trade_id=trade_id), "csv")[1])
            written.append(str(path))
        export = export.model_copy(update={"statements": written})
        say(f"statements of the Shanghai order (CNY at the recorded rate): {', '.join(written)}")
    roasted = history.history(ctx, gtin=ROASTED[0], lot=ROASTED[1])
    green = history.history(ctx, gtin=GREEN[0], lot=GREEN[1], sync=False)
    verified = sum(1 for e in green.timeline + roasted.timeline if e.status == "verified")
    total = len(green.timeline) + len(roasted.timeline)
    say(
        f"{verified} of {total} events verified on chain; hash chains "
        + ("ok" if green.hash_chain.ok and roasted.hash_chain.ok else "BROKEN")
    )
    return DemoSummary(
        chain_id=chain.chain_id,
        contracts={n: d.address for n, d in result.deployment.contracts.items()},
        batches={
            "green": DemoBatch(gtin=GREEN[0], lot=GREEN[1], events=len(green.timeline)),
            "roasted": DemoBatch(gtin=ROASTED[0], lot=ROASTED[1], events=len(roasted.timeline)),
        },
        events_verified=verified,
        events_total=total,
        hash_chains_ok=green.hash_chain.ok and roasted.hash_chain.ok,
        label=DemoLabel(file=str(label), uri=uri.split("#")[0], signed_uri=uri),
        trades=trades,
        export_trade=export,
    )


def _export(ctx: TraceContext, at: Callable[[float], str], say: Say) -> None:
    """Two roasted lots for a Shanghai importer: one order of two lines, DAP Shanghai (CNSHA), invoiced in CNY at
    the local CNY/USD feed and escrowed in USDC; the roaster ships both lots, which are on their way."""
    processor = dev_account("processor")
    for gtin, lot, _ in EXPORT_LOTS:
        batches.derive_batch(
            ctx,
            source="demo",
            account=processor,
            gtin=gtin,
            lot=lot,
            parents=[GREEN],
            quantity="60",
            uom="KGM",
            when=at(12.8),
            process="roasting",
            metadata={
                "product": "Huila medium roast, whole bean, export lot",
                "origin": "Roasted in Rotterdam from Huila green coffee",
                "places": PLACES,
            },
        )
    refresh_dev_feeds(ctx.chain, dev_account("admin"))  # a local chain kept for days has only stale rounds
    amount, currency = EXPORT_INVOICE
    trade = escrow.open_trade(
        ctx,
        account=dev_account("buyer"),
        order=escrow.TradeOrder(
            seller="processor",
            arbiter="arbiter",
            token="USDC",
            amount=None,
            lines=[OrderLine(g, lot, share) for g, lot, share in EXPORT_LOTS],
            invoice_amount=amount,
            invoice_currency=currency,
            incoterm="DAP",
            place="CNSHA",
            deliver_by="45d",
        ),
    )
    for gtin, lot, _ in EXPORT_LOTS:
        batches.record_event(
            ctx,
            source="demo",
            account=processor,
            gtin=gtin,
            lot=lot,
            step="shipping",
            gln=ROASTERY_GLN,
            to="buyer",
            when=at(13.2),
        )
    say(
        f"a Shanghai importer bought two roasted lots DAP CNSHA for {amount} {currency} = {trade.amount} USDC at "
        f"{trade.invoice.rate if trade.invoice else '?'} (trades {', '.join(map(str, trade.trade_ids))}); "
        "both lots shipped"
    )


def _export_trade(ctx: TraceContext) -> ExportTrade | None:
    """The export order's trade ids, found by its first lot's trade (statements are written from these)."""
    key = batch_key(*EXPORT_LOTS[0][:2])
    for trade in escrow.list_trades(ctx):
        if trade.batch_id == key.id_hex:
            shown = escrow.show_trade(ctx, trade_id=trade.trade_id)
            return ExportTrade(
                trade_ids=shown.order.trade_ids if shown.order else [shown.trade_id],
                incoterm=shown.incoterm,
                place=shown.place,
                invoice=shown.invoice.model_dump(mode="json") if shown.invoice else None,
                token=shown.token.symbol,
            )
    return None
