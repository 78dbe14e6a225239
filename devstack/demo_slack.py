"""The demo's alerting section: a Slack incoming-webhook stand-in (Slack's one message a
second) that ``configs/connectors/alerts-slack.json`` posts the failed calls to."""

from __future__ import annotations

from devstack.demo_base import DemoContext
from devstack.webhooks import SlackWebhookStub


class SlackSection:
    title = "alerts into the Slack webhook stand-in (configs/connectors/alerts-slack.json)"

    def __init__(self) -> None:
        self.stub: SlackWebhookStub | None = None

    def setup(self, ctx: DemoContext) -> None:
        self.stub = SlackWebhookStub(per_second=1.0, burst=2).start()
        ctx.env["DEMO_SLACK_URL"] = self.stub.webhook_url

    def _failed(self, ctx: DemoContext) -> list[str]:
        return [str(e.data["call_id"]) for e in ctx.events if e.data.get("status") == "failed"]

    def ready(self, ctx: DemoContext) -> bool:
        assert self.stub is not None
        return len(self.stub.texts()) >= len(self._failed(ctx))

    def report(self, ctx: DemoContext) -> str:
        assert self.stub is not None
        texts = self.stub.texts()
        lines = [
            f"{len(texts)} alerts for {len(self._failed(ctx))} failed calls of "
            f"{len(ctx.events)} events, {self.stub.limited} refused by the rate limit (429)"
        ]
        lines += [f"  {text}" for text in texts[:3]]
        return "\n".join(lines)

    def teardown(self) -> None:
        if self.stub is not None:
            self.stub.stop()
            self.stub = None
