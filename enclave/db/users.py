"""Local users (people who sign in on the login page, for sites without SSO) and their
sign-in sessions; the repository that adds, finds, disables and signs them out.

Only a salted scrypt hash of a password is stored (app/security/users.py), and only a SHA-256
of a session's token: a copy of the database signs nobody in. A session is a row, so signing
out and `enclave users disable` end it on the server, whatever the browser keeps.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from enclave.db.models import Base, new_id, utcnow


class User(Base):
    """A person with a password. `disabled_at` set: they cannot sign in, and their sessions
    are gone."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # lower case
    password_hash: Mapped[str] = mapped_column(String(128))  # hex scrypt digest
    salt: Mapped[str] = mapped_column(String(64))  # hex
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)  # ["*"]: every group
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginSession(Base):
    """One signed-in browser. `id` is the SHA-256 (hex) of the cookie's random token."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, user: User) -> User:
        self.session.add(user)
        self.session.flush()
        return user

    def by_name(self, username: str) -> User | None:
        return self.session.scalar(select(User).where(User.username == username))

    def list(self) -> Sequence[User]:
        return self.session.scalars(select(User).order_by(User.username)).all()

    def disable(self, user: User) -> int:
        """Disable the user and end their sessions; how many sessions ended."""
        if user.disabled_at is None:
            user.disabled_at = utcnow()
        return self.end_sessions_of(user.id)

    def touch_login(self, user_id: str, moment: datetime) -> None:
        self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(last_login_at=moment)
            .execution_options(synchronize_session=False)
        )

    # --- sessions --------------------------------------------------------------------------

    def add_session(self, row: LoginSession) -> LoginSession:
        self.session.add(row)
        self.session.flush()
        return row

    def live_session(self, token_hash: str, now: datetime) -> tuple[LoginSession, User] | None:
        """The session and its user, when the session has not expired and the user is
        enabled (one query: this runs on every request a browser makes)."""
        found = self.session.execute(
            select(LoginSession, User)
            .join(User, User.id == LoginSession.user_id)
            .where(
                LoginSession.id == token_hash,
                LoginSession.expires_at > now,
                User.disabled_at.is_(None),
            )
        ).first()
        return (found[0], found[1]) if found else None

    def end_session(self, token_hash: str) -> bool:
        result = self.session.execute(
            delete(LoginSession)
            .where(LoginSession.id == token_hash)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def end_sessions_of(self, user_id: str) -> int:
        result = self.session.execute(
            delete(LoginSession)
            .where(LoginSession.user_id == user_id)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def purge_expired(self, now: datetime) -> int:
        result = self.session.execute(
            delete(LoginSession)
            .where(LoginSession.expires_at <= now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)
