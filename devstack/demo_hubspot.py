"""The demo's CRM section: a HubSpot stand-in that ``configs/connectors/crm-hubspot.json``
writes to, one contact per caller email."""

from __future__ import annotations

from datetime import UTC, datetime

from devstack.demo_base import DemoContext
from devstack.hubspot import ALL_SCOPES, HubSpotStub

TOKEN = "demo-token"


class HubSpotSection:
    title = "CRM sink into the HubSpot stand-in (configs/connectors/crm-hubspot.json)"

    def __init__(self) -> None:
        self.stub: HubSpotStub | None = None

    def setup(self, ctx: DemoContext) -> None:
        # Professional-tier limits, as the connector is configured: it should never be refused.
        self.stub = HubSpotStub({TOKEN: ALL_SCOPES}, per_10s=190, daily=625_000).start()
        ctx.env["DEMO_HUBSPOT_URL"] = self.stub.url
        ctx.env["DEMO_HUBSPOT_TOKEN"] = TOKEN

    def _callers(self, ctx: DemoContext) -> set[str]:
        return {str(e.data["caller"]["email"]).strip().lower() for e in ctx.completed}  # type: ignore[index]

    def ready(self, ctx: DemoContext) -> bool:
        assert self.stub is not None
        callers = self._callers(ctx)
        return bool(callers) and self.stub.count("contacts") >= len(callers)

    def report(self, ctx: DemoContext) -> str:
        assert self.stub is not None
        contacts = sorted(self.stub.objects("contacts"), key=lambda c: int(c["id"]))
        upserts = [c for c in self.stub.calls if c.path.endswith("/batch/upsert")]
        lines = [
            f"{len(contacts)} contacts for {len(self._callers(ctx))} distinct callers of "
            f"{len(ctx.completed)} completed calls: {len(upserts)} batch upsert calls carrying "
            f"{sum(c.inputs for c in upserts)} inputs, {len(self.stub.refused())} refused (429)"
        ]
        for contact in contacts[:3]:
            p = contact["properties"]
            when = datetime.fromtimestamp(int(p["last_call_time"]) / 1000, UTC)
            lines.append(
                f"  {p['email']:<24} last call {when:%Y-%m-%d %H:%M:%S}Z  "
                f"agent={p['last_agent']:<4} tenant={p['tenant']}"
            )
        return "\n".join(lines)

    def teardown(self) -> None:
        if self.stub is not None:
            self.stub.stop()
            self.stub = None
