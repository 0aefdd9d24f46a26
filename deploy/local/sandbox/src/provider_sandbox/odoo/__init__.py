"""Odoo's external JSON-RPC API (`POST /jsonrpc`: services common and object)."""
