"""What each Slack incoming-webhook answer means for offramp.

Slack answers 200 with the body ``ok``; errors are a status and a short text code
(api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks):

- 200 ``ok``: written.
- 429 (with ``Retry-After``), 5xx (``rollup_error``), timeouts, no connection:
  ``RetriableError``; the pacer holds every post to that webhook for the wait.
- 400 ``invalid_payload``, ``no_text``, ``invalid_blocks``, ``user_not_found`` and
  other codes naming the message: that record is dead-lettered with the status and code.
- 403 ``action_prohibited``/``invalid_token``, 404 ``no_service``/``channel_not_found``,
  410 ``channel_is_archived``: ``FatalError`` on ``slack.webhook.url`` — no message can
  go through that webhook, so the task stops with the reason.
"""

from __future__ import annotations

__all__ = ["CODE_HEADER", "STATUS_HEADER", "fatal_reason"]

STATUS_HEADER = "__offramp.errors.slack.status"
CODE_HEADER = "__offramp.errors.slack.error"

_FATAL = {
    "action_prohibited": "the workspace restricts this webhook from posting here",
    "invalid_token": "the webhook's token is invalid",
    "no_service": "the webhook is disabled, removed or mistyped",
    "no_active_hooks": "the webhook is disabled",
    "no_team": "the webhook's workspace is gone",
    "team_disabled": "the webhook's workspace is disabled",
    "channel_not_found": "the webhook's channel does not exist",
    "channel_is_archived": "the webhook's channel is archived",
    "posting_to_general_channel_denied": "only admins may post to this channel",
}


def fatal_reason(status: int, code: str) -> str | None:
    """Why the webhook can take no message at all (the task stops), or None."""
    if code in _FATAL:
        return _FATAL[code]
    if status in (401, 403, 404, 410):
        return f"Slack refuses the webhook (HTTP {status})"
    return None
