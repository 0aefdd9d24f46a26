"""Microsoft Teams incoming webhooks (`POST /teams/webhook/{id}`) as Teams answers them: `1` for
a message it takes (an Adaptive Card attachment, or a legacy MessageCard), Teams' own text with
400 or 413 for one it does not, 404 for a webhook that does not exist or was removed, 429 with
`Retry-After` for a rate-limited one; and a sandbox API to make webhooks and see what was
posted."""
