"""What a tenant sends to create or change a connection (the spec's Integration model), one shape
per type (contracts.connections): `type` picks the config and credentials it takes.

`mode` says who answers the connection's calls: `provider` (the type's client, with the config
and credentials), `echo` (each action's parameters back: to try a workflow out; no config) or
`http` (`POST {config.base_url}/{action}` to a service of the tenant's). A provider connection
may be created without credentials (the OAuth flow supplies them, or a later PATCH): until it
has them it is `pending` and its calls fail NotConnected."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union

from contracts.connections import CONNECTION_TYPES, Limits
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

Mode = Literal["provider", "echo", "http"]
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f]*\S[^\x00-\x1f]*$",
        description="Unique in the tenant; a node may name its connection by it.",
        examples=["Main shop"],
    ),
]


class _ConnectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _mode_needs(self) -> Any:
        fields = self.__dict__
        problem = config_problem(fields["type"], fields["mode"], fields["config"], self._whole)
        if problem:
            raise ValueError(problem)
        return self

    _whole = True  # a patch is checked against what it changes (the handler)


class _PatchBody(_ConnectionBody):
    _whole = False


def _spec(type_name: str) -> type[BaseModel]:
    kind = CONNECTION_TYPES[type_name]
    fields: dict[str, Any] = {
        "type": (Literal[type_name], ...),
        "name": (Name, ...),
        "mode": (Mode, "provider"),
        "config": (kind.config | None, None),
        "credentials": (
            kind.credentials | None,
            Field(None, description="Write-only: stored sealed, answered by a fingerprint."),
        ),
        "is_default": (bool, Field(False, description="The tenant's default of its type.")),
        "is_active": (bool, True),
        "limits": (
            Limits | None,
            Field(None, description="Overrides the provider's documented rate limits."),
        ),
    }
    return create_model(
        f"{kind.config.__name__.removesuffix('Config')}ConnectionSpec",
        __base__=_ConnectionBody,
        __doc__=f"A new {type_name} connection ({', '.join(kind.auth)}).",
        **fields,
    )


def _patch(type_name: str) -> type[BaseModel]:
    kind = CONNECTION_TYPES[type_name]
    fields: dict[str, Any] = {
        "type": (Literal[type_name], ...),
        "name": (Name | None, None),
        "mode": (Mode | None, None),
        "config": (kind.config | None, None),
        "credentials": (kind.credentials | None, None),
        "is_default": (bool | None, None),
        "is_active": (bool | None, None),
        "limits": (Limits | None, None),
    }
    return create_model(
        f"{kind.config.__name__.removesuffix('Config')}ConnectionPatch",
        __base__=_PatchBody,
        __doc__=f"Changes to a {type_name} connection: the fields given replace the stored ones.",
        **fields,
    )


SPECS = {name: _spec(name) for name in CONNECTION_TYPES}
PATCHES = {name: _patch(name) for name in CONNECTION_TYPES}

# Unions discriminated by `type`: the schema names each type's config and credentials. (For
# mypy, any model: the handlers read their fields by name.)
if TYPE_CHECKING:
    ConnectionSpec: TypeAlias = Any
    ConnectionPatch: TypeAlias = Any
else:
    ConnectionSpec = Annotated[Union[tuple(SPECS.values())], Field(discriminator="type")]  # noqa: UP007
    ConnectionPatch = Annotated[Union[tuple(PATCHES.values())], Field(discriminator="type")]  # noqa: UP007
assert set(SPECS) == set(CONNECTION_TYPES), "a connection type is missing from ConnectionSpec"


def status_of(mode: str, has_credentials: bool) -> str:
    """`connected` when it can be called; `pending` while a provider connection has no
    credentials (OAuth not yet done)."""
    return "pending" if mode == "provider" and not has_credentials else "connected"


def config_problem(
    type_name: str, mode: str | None, config: BaseModel | None, whole: bool
) -> str | None:
    """Why a connection cannot be made with this mode and config (None: it can). ``whole``: the
    config given is all there is (a patch may leave it as stored)."""
    if mode == "http" and (
        (config is None and whole)
        or (config is not None and getattr(config, "base_url", None) is None)
    ):
        return "mode http needs config.base_url: where the actions are POSTed"
    if mode == "provider" and config is None and whole:
        try:
            CONNECTION_TYPES[type_name].config.model_validate({})
        except ValueError:
            return f"a {type_name} connection in mode provider needs its config"
    return None
