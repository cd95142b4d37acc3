"""slack_sim: a local stand-in for Slack's Web API, and Slack-shaped signed requests, for demos and tests.

The stand-in imports nothing of ours; ``slack_sim.console`` (imported on its own) drives the coder-slack
bot through it.
"""

from slack_sim.identity import APP_ID, BOT_ID, BOT_USER_ID, DEFAULT_USERS, TEAM_ID, TEAM_NAME, SlackUser
from slack_sim.records import RecordedCall, StoredMessage
from slack_sim.remote import RemoteStandIn
from slack_sim.render import plain, render_blocks, render_message, render_view
from slack_sim.scopes import METHOD_SCOPES, needed_scope
from slack_sim.server import SlackStandIn
from slack_sim.signed import SignedRequest, SlackRequests

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "DEFAULT_USERS",
    "METHOD_SCOPES",
    "TEAM_ID",
    "TEAM_NAME",
    "RecordedCall",
    "RemoteStandIn",
    "SignedRequest",
    "SlackRequests",
    "SlackStandIn",
    "SlackUser",
    "StoredMessage",
    "needed_scope",
    "plain",
    "render_blocks",
    "render_message",
    "render_view",
]
