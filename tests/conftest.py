import pytest


@pytest.fixture(scope="session")
def extractor():
    """The extractor with the model `make install` trained."""
    from bot.intake.extractor import Extractor

    return Extractor.load()
