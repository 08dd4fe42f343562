import itertools

import pytest

from bot.storage import open_engine
from tests.postgres import create_database

_numbers = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """The same tests on the default SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        yield open_engine(f"sqlite:///{tmp_path / 'h.db'}")
        return
    socket_dir, port = request.getfixturevalue("postgres")
    engine = open_engine(create_database(socket_dir, port, f"t{next(_numbers)}"))
    yield engine
    engine.dispose()


@pytest.fixture()
def record(extractor):
    return extractor.extract("望京西园三区暖气不热，屋里才十五度，电话13911112222")
