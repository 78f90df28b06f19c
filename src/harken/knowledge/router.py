"""HTTP routes of the knowledge domain."""

from fastapi import APIRouter

router = APIRouter(tags=["knowledge"])
