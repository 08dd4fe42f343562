"""`hotline desk`: the desk and the dispatch relay in one process, until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web
from sqlalchemy.engine import Engine

from bot.desk.app import make_app
from bot.desk.config import DeskConfig
from bot.dispatch.client import DispatchClient
from bot.dispatch.config import DispatchConfig
from bot.dispatch.relay import Relay

log = logging.getLogger(__name__)


async def serve(engine: Engine, config: DeskConfig, dispatch: DispatchConfig | None) -> None:
    """Serve the desk; relay the outbox to the dispatch API unless `dispatch` is None."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(make_app(engine, config), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port).start()
    log.info("desk listening on http://%s:%d", config.host, config.port)
    print(f"坐席工作台：http://{config.host}:{config.port}/", flush=True)
    try:
        if dispatch is None:
            await stop.wait()
        else:
            async with DispatchClient(dispatch) as client:
                await Relay(engine, dispatch, client).run(stop)
    finally:
        await runner.cleanup()
