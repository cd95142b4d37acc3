"""Published App Homes (revision 0008_home_tabs).

- ``home_tabs``: one row per person whose App Home the bot has published (``views.publish`` succeeded), with
  their Coder username (lowercased, "" until known) so any replica can find whose Home shows a workspace that
  changed. Removed when the team uninstalls the app, or when Slack refuses a publish for good.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from coder_slack.store.tables import Base, utcnow


class HomeTab(Base):
    __tablename__ = "home_tabs"
    __table_args__ = (Index("ix_home_tabs_coder_username", "coder_username"),)

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    coder_username: Mapped[str] = mapped_column(String(255), default="")
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
