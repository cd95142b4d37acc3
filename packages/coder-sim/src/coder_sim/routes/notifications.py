"""``POST /notifications/test``: Coder's "Send test notification" button (v2 era, owners only)."""

from __future__ import annotations

from aiohttp import web

from ..context import context_of, current_user
from ..eras import Era
from ..errors import ApiError

PREFIX = "/api/v2"


async def send_test_notification(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    me = current_user(request)
    if not me.is_owner:
        # Coder checks the caller may update the deployment's config.
        raise ApiError(403, "Forbidden.")
    ctx.notifications.send("test_notification", me, None, {})
    return web.Response(status=200)


def register(router: web.UrlDispatcher, era: Era) -> None:
    if era.has_notifications:
        router.add_post(PREFIX + "/notifications/test", send_test_notification)
