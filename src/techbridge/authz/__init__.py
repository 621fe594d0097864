"""Authorisation (权限): may this principal see or change that?

:mod:`techbridge.authz.principal` holds who is asking and how a refusal is raised; each
domain's rules are one module here named after it (``authz.catalog``, ``authz.accounts``,
``authz.deals``…), importing only that domain's models. Services ask these modules; pages,
the API and the command line only pass the principal along. A new domain adds its own file.
"""

from techbridge.authz.principal import ANONYMOUS, SYSTEM, Principal, require

__all__ = ["ANONYMOUS", "SYSTEM", "Principal", "require"]
