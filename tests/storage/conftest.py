import pytest

from bot.storage import open_engine


@pytest.fixture()
def engine(tmp_path):
    return open_engine(f"sqlite:///{tmp_path / 'h.db'}")


@pytest.fixture()
def record(extractor):
    return extractor.extract("望京西园三区暖气不热，屋里才十五度，电话13911112222")
