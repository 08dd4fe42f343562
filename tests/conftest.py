import pytest


@pytest.fixture(scope="session")
def extractor():
    """The extractor with the model `make install` trained."""
    from bot.intake.extractor import Extractor

    return Extractor.load()


@pytest.fixture(scope="session")
def postgres():
    """(socket directory, port) of a throwaway PostgreSQL server for the whole run."""
    from tests.postgres import postgres_server

    with postgres_server() as server:
        yield server
