"""The agent desk (aiohttp, Chinese UI): queue, record form, search."""
