"""A local Slack Web API stand-in for tests and the console (see ``server.SlackStandIn``)."""

from coder_slack.standin.remote import RemoteStandIn
from coder_slack.standin.render import plain, render_blocks, render_message, render_view
from coder_slack.standin.server import (
    BOT_USER_ID,
    DEFAULT_USERS,
    METHOD_SCOPES,
    PERMANENT_CHANNEL_ERRORS,
    TEAM_ID,
    RecordedCall,
    SlackStandIn,
    SlackUser,
    StoredMessage,
    needed_scope,
)

__all__ = [
    "BOT_USER_ID",
    "DEFAULT_USERS",
    "METHOD_SCOPES",
    "PERMANENT_CHANNEL_ERRORS",
    "TEAM_ID",
    "RecordedCall",
    "RemoteStandIn",
    "SlackStandIn",
    "SlackUser",
    "StoredMessage",
    "needed_scope",
    "plain",
    "render_blocks",
    "render_message",
    "render_view",
]
