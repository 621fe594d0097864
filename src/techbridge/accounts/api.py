"""JSON API (/api/v1): see the module's routes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
