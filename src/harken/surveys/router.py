"""HTTP routes of the surveys domain."""

from fastapi import APIRouter

router = APIRouter(tags=["surveys"])
