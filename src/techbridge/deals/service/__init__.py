"""Deals' operations (交易撮合), one public surface over modules by topic:
``dockings`` (starting and moving one, reveal, contacts, the exchange's hook),
``introductions`` (the introduction routes as views over dockings), ``threads``,
``attachments``, ``lists``, ``proposals`` (揭榜: proposals and challenges), ``views``
(what each viewer may see), ``notifications`` (who hears of each event, in-app and by
e-mail) and ``brokering`` (suggested tech managers, reminders of stalled dockings,
track records)."""

from techbridge.deals.service.attachments import (
    FileStore,
    clean_name,
    media_type_of,
    open_attachment,
    upload_attachment,
)
from techbridge.deals.service.brokering import (
    manager_track_record,
    overlap,
    send_reminders,
    suggest_managers,
    track_record,
)
from techbridge.deals.service.dockings import (
    existing_docking,
    existing_dockings,
    get_docking,
    mark_registered,
    move_docking,
    open_docking,
    request_introduction,
    reveal,
    share_contacts,
)
from techbridge.deals.service.introductions import (
    answer_introduction,
    get_introduction,
    list_introductions,
    view,
)
from techbridge.deals.service.lists import list_dockings, list_my_dockings, list_queue
from techbridge.deals.service.notifications import (
    list_notifications,
    mark_all_read,
    mark_read,
    unread_count,
)
from techbridge.deals.service.proposals import (
    challenge_view,
    challenges_for,
    demand_for_proposals,
    events_of,
    get_challenge,
    get_proposal,
    list_for_demand,
    list_mine,
    move_proposal,
    offers_to_build_on,
    post_challenge,
    proposal_view,
    submit_proposal,
)
from techbridge.deals.service.threads import post_message
from techbridge.deals.service.views import anonymous_name, docking_view, summary

__all__ = [
    "FileStore",
    "anonymous_name",
    "answer_introduction",
    "challenge_view",
    "challenges_for",
    "clean_name",
    "demand_for_proposals",
    "docking_view",
    "events_of",
    "existing_docking",
    "existing_dockings",
    "get_challenge",
    "get_docking",
    "get_introduction",
    "get_proposal",
    "list_dockings",
    "list_for_demand",
    "list_introductions",
    "list_mine",
    "list_my_dockings",
    "list_notifications",
    "list_queue",
    "manager_track_record",
    "mark_all_read",
    "mark_read",
    "mark_registered",
    "media_type_of",
    "move_docking",
    "move_proposal",
    "offers_to_build_on",
    "open_attachment",
    "open_docking",
    "overlap",
    "post_challenge",
    "post_message",
    "proposal_view",
    "request_introduction",
    "reveal",
    "send_reminders",
    "share_contacts",
    "submit_proposal",
    "suggest_managers",
    "summary",
    "track_record",
    "unread_count",
    "upload_attachment",
    "view",
]
