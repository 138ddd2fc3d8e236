"""Cover images: PNG or JPEG (decided by magic bytes, not the name), stored under a random name.

The path is ``<upload_dir>/projects/<uuid4 hex>``; the view serves it with the stored type and nosniff.
A replaced file is deleted by the caller after its commit (``discard_cover_file``), so a rollback never
leaves a project pointing at a deleted file.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import BinaryIO

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.projects.models import Project
from kyodo_fund.projects.services import NotEditable, ProjectError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def sniff_image_type(data: bytes) -> str | None:
    if data.startswith(PNG_MAGIC):
        return "image/png"
    if data.startswith(JPEG_MAGIC):
        return "image/jpeg"
    return None


def cover_path(upload_dir: str, stored_name: str) -> Path:
    return Path(upload_dir) / "projects" / stored_name


def set_cover(
    session: Session, actor: Actor, project: Project, stream: BinaryIO, *, upload_dir: str, max_bytes: int
) -> str | None:
    """Store a new cover; returns the stored name of the file it replaced (delete it after the commit)."""
    if not project.is_editable:
        raise NotEditable()
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ProjectError(_l("画像が大きすぎます（上限 %(mb)s MB）。", mb=max(1, max_bytes // (1024 * 1024))), "cover")
    content_type = sniff_image_type(data)
    if content_type is None:
        raise ProjectError(_l("PNGまたはJPEG形式の画像を選んでください。"), "cover")
    stored_name = uuid.uuid4().hex
    path = cover_path(upload_dir, stored_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("xb") as fh:  # "x": a uuid collision must never overwrite another file
        fh.write(data)
    old = project.cover_name
    project.cover_name, project.cover_type = stored_name, content_type
    try:
        session.flush()
    except Exception:
        path.unlink(missing_ok=True)
        raise
    record(session, actor, "projects.cover_set", project, after={"cover": stored_name, "type": content_type})
    return old


def remove_cover(session: Session, actor: Actor, project: Project) -> str | None:
    """Drop the cover; returns the stored name of the now unused file (delete it after the commit)."""
    if not project.is_editable:
        raise NotEditable()
    old = project.cover_name
    if old is None:
        return None
    project.cover_name = project.cover_type = None
    session.flush()
    record(session, actor, "projects.cover_removed", project, before={"cover": old})
    return old


def discard_cover_file(upload_dir: str, stored_name: str | None) -> None:
    if stored_name:
        cover_path(upload_dir, stored_name).unlink(missing_ok=True)
