"""Shopify's GraphQL Admin API (`/admin/api/{version}/graphql.json`) and its leaky bucket."""
