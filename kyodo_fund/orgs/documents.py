"""Uploaded PDFs (定款, 登記事項証明書, 役員名簿 ...): checked, stored under a random name, served as attachments.

The client's file name is kept for display only; the path is ``<upload_dir>/orgs/<org id>/<uuid4 hex>``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.orgs.models import DOCUMENT_STATES, DocumentKind, Organisation, OrgDocument
from kyodo_fund.orgs.services import OrgError

PDF_MAGIC = b"%PDF-"
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


class DocumentRejected(OrgError):
    def __init__(self, message: object) -> None:
        super().__init__(message, "file")


def display_filename(raw: str) -> str:
    """The last path segment of the client's name, without control characters, at most 255 chars."""
    name = PurePosixPath((raw or "").replace("\\", "/")).name
    name = _CONTROL_CHARS.sub("", name).strip() or "document.pdf"
    if len(name) > 255:
        name = name[:251] + ".pdf"
    return name


def document_path(upload_dir: str, doc: OrgDocument) -> Path:
    return Path(upload_dir) / "orgs" / str(doc.organisation_id) / doc.stored_name


def store_document(
    session: Session,
    actor: Actor,
    org: Organisation,
    *,
    kind: DocumentKind,
    filename: str,
    stream: BinaryIO,
    upload_dir: str,
    max_bytes: int,
) -> OrgDocument:
    if org.status not in DOCUMENT_STATES:
        raise OrgError(_l("審査中は書類を追加できません。"))
    name = display_filename(filename)
    if not name.lower().endswith(".pdf"):
        raise DocumentRejected(_l("PDFファイル（拡張子 .pdf）を選んでください。"))
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DocumentRejected(_l("ファイルが大きすぎます（上限 %(mb)s MB）。", mb=max_bytes // (1024 * 1024) or 1))
    if not data.startswith(PDF_MAGIC):
        raise DocumentRejected(_l("PDFファイルではありません。PDF形式で保存したファイルを選んでください。"))

    doc = OrgDocument(
        organisation_id=org.id,
        kind=kind,
        original_filename=name,
        stored_name=uuid.uuid4().hex,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by_id=getattr(actor.user, "id", None),
    )
    path = document_path(upload_dir, doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("xb") as fh:  # "x": a uuid collision must never overwrite another file
        fh.write(data)
    org.documents.append(doc)
    try:
        session.flush()
    except Exception:
        path.unlink(missing_ok=True)
        raise
    record(
        session,
        actor,
        "orgs.document_uploaded",
        org,
        after={"document_id": doc.id, "kind": kind.value, "sha256": doc.sha256},
    )
    return doc
