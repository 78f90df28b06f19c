"""Imports every domain's tables so `Base.metadata` (and Alembic) sees them all."""

import harken.campaigns.models
import harken.conversations.models
import harken.core.idempotency_models
import harken.core.jobs.models
import harken.knowledge.models
import harken.surveys.models
import harken.webhooks.models
import harken.workspaces.models  # noqa: F401
from harken.core.db import Base

metadata = Base.metadata
