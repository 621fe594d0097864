"""Who may see what of the statistics: the headline figures are public; the dockings'
funnel KPIs (aggregates of private negotiations, by tech manager too) are for the people
who run or watch the platform."""

from __future__ import annotations

from techbridge.authz.principal import Principal

KPI_ROLES = frozenset({"administrator", "exchange_operator", "tech_manager", "policy_officer"})


def can_see_funnel(principal: Principal) -> bool:
    return bool(principal.roles & KPI_ROLES)
