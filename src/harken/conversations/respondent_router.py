"""The respondent channel: `/v1/respond/{token}` (the booking token is the credential)."""

from fastapi import APIRouter

router = APIRouter(tags=["respondent"])
