"""Who reads which results: the evaluator workspace's access rules, shared by its pages and the API.

- Evaluators and the district's admins read everything in their region's part of a campaign.
- Street and community staff read the aggregates of their own communities only.
- Individual responses (raw rows, open answers as written) are for evaluators and the district, not
  for those being evaluated (answers about their own cadres, and who might have given them).
- A campaign out of the account's region is answered as not found, as everywhere else.

Pages send a visitor who is not logged in to the login page; the API answers 401 in JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, request
from flask_login import current_user

from ..extensions import db, login_manager
from ..models import Campaign
from ..staff.scope import campaign_access


@dataclass(frozen=True)
class ReadScope:
    campaign: Campaign
    #: The campaign's communities this account may read.
    community_ids: frozenset[int]
    #: Every community of the campaign is readable (a district-wide figure or ranking may be shown).
    covers_all: bool
    #: Individual responses (raw rows, open answers) may be read, not only aggregates.
    reads_responses: bool

    def community_or_404(self, community_id: int) -> int:
        if community_id not in self.community_ids:
            abort(404, f"no community {community_id} in campaign {self.campaign.id}"
                  if _api() else "这个社区不在本次测评里，或不在您的管辖范围内。")
        return community_id

    def require_all(self) -> None:
        """Campaign-wide figures compare communities: refuse an account that sees only some of them."""
        if not self.covers_all:
            abort(403, "this needs every community of the campaign in your region" if _api()
                  else "这项结果要看全部社区，只有考评人员和区里能看。")

    def require_responses(self) -> None:
        if not self.reads_responses:
            abort(403, "individual responses are for admin and evaluator accounts" if _api()
                  else "单份问卷和原始答案只有考评人员和区里能看。")


def _api() -> bool:
    return request.path.startswith("/api/")


def read_scope(campaign_id: int) -> ReadScope:
    """The campaign and what the logged-in account may read of it (401/404 otherwise)."""
    if not current_user.is_authenticated:
        if _api():
            abort(401, "log in (POST /staff/login) to read a campaign's results")
        abort(login_manager.unauthorized())
    campaign = db.session.get(Campaign, campaign_id) if 0 < campaign_id < 2**31 else None
    access = campaign_access(current_user, campaign) if campaign is not None else None
    if access is None or not access.may_view:
        abort(404, f"no campaign {campaign_id}" if _api() else None)
    return ReadScope(campaign, access.community_ids, access.covers_all, current_user.role.may_exclude)
