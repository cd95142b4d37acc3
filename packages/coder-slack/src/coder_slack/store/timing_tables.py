"""Recent startup durations per template (revision 0009_startup_durations), for "slower than usual".

- ``startup_durations``: one row per start build that reached ``ready`` (its build id is the key, so the
  status card and the alert engine, on any replica, record it once): the template, the workspace, how long
  the start took by Coder's build timings, and when it finished. Coder keeps no such history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from coder_slack.store.tables import Base, utcnow


class StartupDuration(Base):
    __tablename__ = "startup_durations"
    __table_args__ = (Index("ix_startup_durations_template", "template_id", "finished_at"),)

    build_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64))
    workspace_id: Mapped[str] = mapped_column(String(64), default="")
    seconds: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
