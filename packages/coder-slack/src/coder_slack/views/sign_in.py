"""Sign in with Coder: the private answer to `/workspace login` that carries Coder's authorize link."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from coder_slack.views.message import Message

SIGN_IN_ACTION = "open_coder_sign_in"  # an `open_` link button: app.py acks its click


def sign_in_message(authorize_url: str, minutes: int) -> Message:
    text = (
        "*Sign in with Coder* to link your account: your commands then run as your own Coder user. "
        f"The link works once, for {minutes} minutes, and only for you."
    )
    return Message(
        "Sign in with Coder to link your account.",
        [
            SectionBlock(text=MarkdownTextObject(text=text)),
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Sign in with Coder",
                        url=authorize_url,
                        action_id=SIGN_IN_ACTION,
                        style="primary",
                    )
                ]
            ),
            ContextBlock(
                elements=[
                    MarkdownTextObject(text="Prefer an API token? `/workspace login token` opens a form.")
                ]
            ),
        ],
    )
