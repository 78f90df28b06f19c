"""HTTP routes of the webhooks domain."""

from fastapi import APIRouter

router = APIRouter(tags=["webhooks"])
