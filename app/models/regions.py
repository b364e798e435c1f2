"""The regions tree (district → street → community) and the sites inside communities."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, enum_column, utcnow


class RegionLevel(str, enum.Enum):
    DISTRICT = "district"    # 区/县
    STREET = "street"        # 街道/乡镇
    COMMUNITY = "community"  # 社区/村

    @property
    def label(self) -> str:
        return {"district": "区/县", "street": "街道/乡镇", "community": "社区/村"}[self.value]


#: The level a region's parent must have.
PARENT_LEVEL = {RegionLevel.STREET: RegionLevel.DISTRICT, RegionLevel.COMMUNITY: RegionLevel.STREET}


class CommunityKind(str, enum.Enum):
    URBAN = "urban"      # 城市社区
    VILLAGE = "village"  # "村改居" community: a former village now run as a residents' community

    @property
    def label(self) -> str:
        return {"urban": "城市社区", "village": "村改居"}[self.value]


class Region(db.Model):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Administrative or local code, unique across the whole tree (e.g. 530102 for 五华区).
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    #: Name as residents know it (五华区, 华山街道, 翠湖社区).
    name: Mapped[str] = mapped_column(sa.String(100))
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel))
    #: The district of a street, the street of a community; None for a district.
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    #: Households in a community: the population the target sample is drawn from.
    households: Mapped[int | None]
    #: City community or 村改居, for communities only (Kunming's standards differ by kind).
    kind: Mapped[CommunityKind | None] = mapped_column(enum_column(CommunityKind))

    parent: Mapped[Region | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Region]] = relationship(back_populates="parent", order_by="Region.code")
    sites: Mapped[list[Site]] = relationship(back_populates="community", order_by="Site.id")

    __table_args__ = (
        sa.CheckConstraint("households IS NULL OR households >= 0", name="households_not_negative"),
    )

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"


def new_site_token() -> str:
    """128 random bits, URL-safe: a site's address cannot be guessed from another's.

    Never starting with "-", which a shell or a command's options would take for a flag
    (`flask qr -abc…`).
    """
    while True:
        token = secrets.token_urlsafe(16)
        if not token.startswith("-"):
            return token


class Site(db.Model):
    """An evaluation point (考评点) inside a community where a QR code is posted."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    #: Where the poster hangs (社区综合文化服务中心, 某某小区东门 …).
    name: Mapped[str] = mapped_column(sa.String(100))
    #: The unguessable part of the site's URL and QR code.
    token: Mapped[str] = mapped_column(sa.String(32), unique=True, default=new_site_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the site stopped being used (its poster taken down); its QR code then says so.
    #: Sites are retired, never deleted: responses name them.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    community: Mapped[Region] = relationship(back_populates="sites")

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    def __repr__(self) -> str:
        return f"<Site {self.token} {self.name}>"
