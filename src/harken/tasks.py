"""Imports every domain's job handlers so a worker knows them all."""

import harken.campaigns.tasks
import harken.conversations.tasks
import harken.core.maintenance
import harken.knowledge.tasks
import harken.surveys.tasks
import harken.webhooks.tasks  # noqa: F401
