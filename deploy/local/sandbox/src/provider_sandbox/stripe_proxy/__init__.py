"""Stripe's idempotent requests in front of stripe-mock."""
