"""Slack's Web API as the official slack-sdk calls it (`chat.postMessage`, `auth.test`, under
`/api/`): bot tokens of workspaces made through the sandbox's own API, their channels (by id and
by name), magic channels that refuse (`not_in_channel`, `is_archived`) or are rate limited."""
