"""The provider clients, one per connection type (integrations.domain.providers.ProviderClient):
each speaks its provider's public API, through the provider's official SDK where it is
async-friendly, else httpx. ``clients`` builds them once per process."""

from __future__ import annotations

import httpx

from integrations.adapters.knowledge import KnowledgeReader
from integrations.domain.providers import ProviderClient
from integrations.providers.hubspot import HubSpotClient
from integrations.providers.jira import JiraClient
from integrations.providers.odoo import OdooClient
from integrations.providers.openai import OpenAIClient
from integrations.providers.postgres import PostgresClient
from integrations.providers.salesforce import SalesforceClient
from integrations.providers.shopify import ShopifyClient
from integrations.providers.stripe import StripeClient
from integrations.providers.zendesk import ZendeskClient


def clients(
    http: httpx.AsyncClient, knowledge: KnowledgeReader | None = None
) -> dict[str, ProviderClient]:
    """Type -> client. ``http``: the service's shared client (no redirects followed; a client
    with needs of its own, an SDK, a driver, makes its own); ``knowledge``: what AI Generate
    reads of documents and conversations."""
    made: list[ProviderClient] = [
        StripeClient(),
        PostgresClient(),
        OdooClient(http),
        ShopifyClient(http),
        HubSpotClient(http),
        ZendeskClient(http),
        JiraClient(http),
        SalesforceClient(http),
        OpenAIClient(knowledge),
    ]
    return {client.type: client for client in made}
