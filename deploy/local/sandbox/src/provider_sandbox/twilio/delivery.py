"""An outbound message's life after its create: queued -> sent -> delivered (or failed,
undelivered for the magic numbers), one step per delay, each change but the first POSTed to its
StatusCallback with Twilio's status callback parameters."""

from __future__ import annotations

import asyncio
import logging

from .auth import API_VERSION
from .magic import Fate, fate_of
from .outbound import is_whatsapp, segments_of
from .state import Message, TwilioState, bare_address
from .webhooks import WebhookSender

log = logging.getLogger(__name__)


def steps_for(message: Message, fate: Fate) -> list[str]:
    """The statuses after the initial one (no callback is sent for the initial status)."""
    steps = ["queued"] if message.status == "accepted" else []
    return [*steps, "failed"] if fate.status == "failed" else [*steps, "sent", fate.status]


def status_callback_params(message: Message) -> dict[str, str]:
    params = {
        "AccountSid": message.account_sid,
        "ApiVersion": API_VERSION,
        "From": message.from_,
        "MessageSid": message.sid,
        "MessageStatus": message.status,
        "SmsSid": message.sid,
        "SmsStatus": message.status,
        "To": message.to,
    }
    if message.messaging_service_sid:
        params["MessagingServiceSid"] = message.messaging_service_sid
    if message.error_code is not None:
        params["ErrorCode"] = str(message.error_code)
    if is_whatsapp(message.to):
        params["ChannelPrefix"] = "whatsapp"
        params["ChannelToAddress"] = bare_address(message.to)
    elif message.status in ("delivered", "undelivered"):
        # the carrier's delivery receipt time, YYMMDDhhmm
        params["RawDlrDoneDate"] = message.date_updated.strftime("%y%m%d%H%M")
    return params


class DeliveryLifecycle:
    """Runs each outbound message's lifecycle as its own task; `stop` cancels them all."""

    def __init__(
        self, state: TwilioState, sender: WebhookSender, *, delay_s: float, callback_retries: int
    ) -> None:
        self.state = state
        self.sender = sender
        self.delay_s = delay_s
        self.callback_retries = callback_retries
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, message: Message) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver(self, message: Message) -> None:
        fate = fate_of(message.to)
        for status in steps_for(message, fate):
            await asyncio.sleep(self.delay_s)
            if status == "queued":
                message.num_segments = segments_of(message)
            if status in ("failed", "undelivered"):
                message.error_code, message.error_message = fate.error_code, fate.error_message
            message.move_to(status)
            if status == "sent":
                message.date_sent = message.date_updated
            await self._callback(message)

    async def _callback(self, message: Message) -> None:
        account = self.state.accounts.get(message.account_sid)
        if not message.status_callback or account is None:
            return
        try:
            await self.sender.send(
                kind="status-callback",
                message_sid=message.sid,
                url=message.status_callback,
                method="POST",
                params=status_callback_params(message),
                auth_token=account.auth_token,
                retries=self.callback_retries,
            )
        except Exception:  # a sandbox bug must not end the lifecycle silently
            log.exception("status callback of %s", message.sid)
