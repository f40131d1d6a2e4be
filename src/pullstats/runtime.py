"""One process's handle on a pullstats installation: settings, data dir and catalog."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pullstats.config import Settings
from pullstats.db.engine import make_engine, make_sessions
from pullstats.db.migrate import ensure_schema
from pullstats.lake.layout import DataDir


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def paths(self) -> DataDir:
        return self.settings.paths

    @classmethod
    def open(cls, settings: Settings | None = None) -> Runtime:
        """Open (creating on first use) the data dir and catalog named by ``settings``."""
        settings = settings or Settings()
        settings.paths.ensure()
        engine = make_engine(settings.database_url_value)
        ensure_schema(engine)
        return cls(settings, engine, make_sessions(engine))

    def close(self) -> None:
        self.engine.dispose()
