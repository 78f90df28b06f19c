"""HTTP routes of the conversations domain."""

from fastapi import APIRouter

router = APIRouter(tags=["conversations"])
