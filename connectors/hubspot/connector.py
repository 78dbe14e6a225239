"""The ``hubspot`` connector: its config model, its writer, and a connection check."""

from __future__ import annotations

from offramp import BatchWriter, FatalError, RetriableError, SinkConnector, TaskContext
from offramp.connectors.hubspot.client import HubSpotClient, LookupFailed
from offramp.connectors.hubspot.config import HubSpotSinkConfig, required_write_scope
from offramp.connectors.hubspot.ratelimit import RateLimiter
from offramp.connectors.hubspot.writer import HubSpotWriter

__all__ = ["HubSpotSinkConnector"]


class HubSpotSinkConnector(SinkConnector[HubSpotSinkConfig]):
    """Upserts records into HubSpot CRM objects by a unique property, within rate limits."""

    config_model = HubSpotSinkConfig
    description = "Upserts records into HubSpot CRM objects (contacts, companies, custom)"

    def check(self, config: HubSpotSinkConfig) -> str:
        """Reads the account's details and the token's scopes (neither call counts
        against the connector's budget) and says whether the token can write."""
        token = config.hubspot_access_token.get_secret_value()
        limiter = RateLimiter(
            config.hubspot_rate_limit_per_10s,
            config.hubspot_rate_limit_daily,
            config.hubspot_timezone,
        )
        client = HubSpotClient(
            config.hubspot_base_url,
            token,
            limiter,
            config.hubspot_object_type,
            config.hubspot_request_timeout_ms / 1000.0,
        )
        try:
            details = client.account_details()
            scopes = client.token_scopes()
        except RetriableError as exc:
            raise FatalError(f"HubSpot at {config.hubspot_base_url} is unreachable: {exc}") from exc
        except LookupFailed as exc:
            raise FatalError(
                f"{exc} at {config.hubspot_base_url}: is hubspot.base.url HubSpot's API?"
            ) from exc
        finally:
            client.close()
        needed = [required_write_scope(config.hubspot_object_type)]
        needed += [required_write_scope(t) for t, _, _ in config.associations]
        needed = list(dict.fromkeys(needed))
        if scopes is not None:
            missing = [s for s in needed if s not in scopes]
            if missing:
                raise FatalError(
                    f"hubspot.access.token lacks the scopes {', '.join(missing)} needed to "
                    f"write {config.hubspot_object_type}; it has: {', '.join(sorted(scopes))}"
                )
        portal = details.get("portalId", "?")
        kind = details.get("accountType", "unknown type")
        found = f"HubSpot portal {portal} ({kind}) at {config.hubspot_base_url}; "
        found += (
            f"token scopes: {', '.join(sorted(scopes))}"
            if scopes is not None
            else "token scopes: not disclosed for this kind of token"
        )
        zone = details.get("timeZone")
        if zone and zone != config.hubspot_timezone:
            found += (
                f"; note: the account's time zone is {zone} but hubspot.timezone is "
                f"{config.hubspot_timezone} (the daily limit resets at the account's midnight)"
            )
        return found

    def create_writer(self, config: HubSpotSinkConfig, context: TaskContext) -> BatchWriter:
        return HubSpotWriter(config, context)
