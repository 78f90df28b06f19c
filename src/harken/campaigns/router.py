"""HTTP routes of the campaigns domain."""

from fastapi import APIRouter

router = APIRouter(tags=["campaigns"])
