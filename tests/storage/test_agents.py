"""bot/storage/agents: passwords hashed, sessions expire and end, reveals are logged."""

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.storage import Agents
from bot.storage.agents import check_password, hash_password
from bot.storage.schema import sessions


def test_password_hash_is_salted_and_checked():
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and "correct" not in a
    assert check_password("correct horse", a) and not check_password("wrong horse", a)
    assert not check_password("correct horse", "garbage")


def test_login_session_and_logout(engine):
    agents = Agents(engine)
    assert not agents.exists()
    agents.add("li", "secret-pass", "李坐席")
    assert agents.exists()
    assert agents.login("li", "wrong-pass") is None and agents.login("nobody", "secret-pass") is None
    token = agents.login("li", "secret-pass")
    session = agents.session(token)
    assert session.username == "li" and session.display_name == "李坐席" and len(session.csrf) > 20
    # only a hash of the token is stored
    with engine.connect() as db:
        rows = db.execute(sa.select(sessions)).all()
    assert len(rows) == 1 and token not in str(rows)
    agents.logout(token)
    assert agents.session(token) is None
    # a password reset ends every session of the account
    token = agents.login("li", "secret-pass")
    agents.add("li", "new-secret-pass")
    assert agents.session(token) is None and agents.login("li", "new-secret-pass")


def test_expired_session_is_refused(engine):
    agents = Agents(engine)
    agents.add("li", "secret-pass")
    token = agents.login("li", "secret-pass")
    with engine.begin() as db:
        db.execute(sa.update(sessions).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert agents.session(token) is None


@pytest.mark.parametrize("username,password", [("", "long-enough"), ("li", "short"), ("a\nb", "long-enough")])
def test_bad_accounts_are_refused(engine, username, password):
    with pytest.raises(ValueError):
        Agents(engine).add(username, password)


def test_reveals_are_logged_per_record(engine):
    agents = Agents(engine)
    agents.log_access("li", "r1", "phone")
    agents.log_access("wang", "r2", "phone")
    assert [(who, what) for _, who, what in agents.accesses("r1")] == [("li", "phone")]
