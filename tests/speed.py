"""pytest plugin, loaded before the conftest (`-p tests.speed` in pyproject.toml): no garbage collection while
the suite is imported and collected, and none of what that loaded looked at again afterwards; one dialect and
compiled-statement cache for the tests' engines; a worker that ends without freeing its heap."""

from __future__ import annotations

import atexit
import gc
import logging
import os
import sys
from typing import Any

import pytest

# Importing the bot and the tests makes a few hundred thousand objects that live as long as the process: the
# collector's passes over them while importing are wasted (about 0.25 s of CPU per process that collects).
gc.disable()


def _end_at_once() -> None:
    """A test worker's last step: its results are with the controller by now, and what is left of Python's exit is
    freeing some 300 MB of objects one by one (about 1.8 s, with the controller waiting for the last worker). So
    it flushes what a normal exit would and ends there. Registered when pytest imports this plugin, before the
    installed plugins and the conftest, it runs after their atexit functions (last in, first out); logging's,
    registered even earlier, is called here."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # a worker's status: execnet's worker ends with 0 whatever its tests did


if "PYTEST_XDIST_WORKER" in os.environ:
    atexit.register(_end_at_once)


def pytest_configure(config: pytest.Config) -> None:
    _share_compiled_statements()
    controller = config.getoption("dist", "no") != "no" and not hasattr(config, "workerinput")
    if controller:  # pytest-xdist's controller collects nothing: its workers do
        gc.enable()


def pytest_collection_finish(session: pytest.Session) -> None:
    """What was loaded so far lives as long as the process: moved out of the collector's sight (`gc.freeze`),
    and full collections made rarer, a worker spends a third of the time it did in the collector (about 0.8 s
    instead of 2 to 2.8 s)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    gc.enable()


def _share_compiled_statements() -> None:
    """SQLAlchemy keeps the SQL it compiled per engine, keyed by the engine's dialect, and each test makes its own
    engine (its own database file), so each test compiled every statement it ran anew: some 12,000 compilations,
    a fifth of the CPU of the conversation tests. The tests' engines of one kind share one dialect, the first one
    a connection initialised (its state is the driver's and the server's, the same for every file), and one
    cache, so that a statement is compiled once a worker. Nothing else of an engine is shared."""
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.util import LRUCache

    import bot.db

    dialects: dict[type, Any] = {}
    caches: dict[type, LRUCache] = {}

    def create_sharing_engine(*args: Any, **kwargs: Any) -> Any:
        engine = create_async_engine(*args, **kwargs)
        sync = engine.sync_engine
        kind = type(sync.dialect)
        sync._compiled_cache = caches.setdefault(kind, LRUCache(5000))
        if kind in dialects:
            sync.dialect = dialects[kind]
        else:  # after SQLAlchemy's own listener, which initialises the dialect at the first connection
            event.listen(sync, "connect", lambda *_: dialects.setdefault(kind, sync.dialect))
        return engine

    bot.db.create_async_engine = create_sharing_engine
