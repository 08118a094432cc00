"""Built-in SQLAlchemy models, used when no parent project's models.py is found."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, Numeric, String, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the built-in models."""


class _Synced:
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    btxid: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True,
                                            server_default=true())


class City(_Synced, Base):
    """A city (cities)."""

    __tablename__ = "cities"
    name: Mapped[str] = mapped_column(String(255), nullable=False)


class Object(_Synced, Base):
    """A construction object in a city (objects)."""

    __tablename__ = "objects"
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    address: Mapped[str | None] = mapped_column(String(512), nullable=True)
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id"), nullable=True)


class ViolationCategory(_Synced, Base):
    """A violation category (violation_categories)."""

    __tablename__ = "violation_categories"
    name: Mapped[str] = mapped_column(String(255), nullable=False)


class Violation(_Synced, Base):
    """A violation in a category (violations)."""

    __tablename__ = "violations"
    name: Mapped[str] = mapped_column(String(512), nullable=False)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("violation_categories.id"), nullable=True
    )
    fine: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)


class User(_Synced, Base):
    """A portal employee; tg_id and secret_key belong to the mini-app, never to Bitrix24."""

    __tablename__ = "users"
    tg_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, unique=True)
    secret_key: Mapped[str] = mapped_column(String(64), nullable=False)
    first_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    position: Mapped[str | None] = mapped_column(String(255), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(64), nullable=True)
