"""Every domain's tables on one metadata, for Alembic and for tests."""

from techbridge.accounts import models as accounts_models
from techbridge.audit import models as audit_models
from techbridge.catalog import models as catalog_models
from techbridge.db import Base
from techbridge.deals import models as deals_models
from techbridge.matching import models as matching_models

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "audit_models",
    "catalog_models",
    "deals_models",
    "matching_models",
    "metadata",
]
