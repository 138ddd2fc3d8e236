from datetime import timedelta

from sqlalchemy import select

from kyodo_fund.db import utcnow
from kyodo_fund.notifications.models import OutboxMessage, OutboxStatus
from kyodo_fund.notifications.sender import send_due
from kyodo_fund.notifications.services import queue_email


def _queue(session, to="donor@example.jp", **kw):
    return queue_email(session, "test_plain", to=to, context={"name": "山田"}, **kw)


def test_queued_mail_is_delivered_over_real_smtp_with_attachment(app, db_session, mailbox, send_mail, templates):
    with app.test_request_context():
        _queue(db_session, attachments=[("receipt.pdf", "application/pdf", b"%PDF-1.4 test")])
        db_session.commit()
    assert send_mail() == {"sent": 1, "failed": 0, "retry": 0}
    assert len(mailbox) == 1
    msg = mailbox[0]
    assert msg["To"] == "donor@example.jp"
    assert msg["Subject"] == "山田様へのお知らせ"
    assert "山田様" in msg.get_body(("plain",)).get_content()
    attachment = next(msg.iter_attachments())
    assert attachment.get_filename() == "receipt.pdf"
    assert attachment.get_content() == b"%PDF-1.4 test"
    stored = db_session.scalars(select(OutboxMessage)).one()
    assert stored.status is OutboxStatus.SENT and stored.sent_at is not None
    assert send_mail()["sent"] == 0, "a sent message is never sent again"


def test_dedupe_key_queues_once(app, db_session, templates):
    with app.test_request_context():
        assert _queue(db_session, dedupe_key="receipt:1") is not None
        assert _queue(db_session, dedupe_key="receipt:1") is None
        assert len(db_session.scalars(select(OutboxMessage)).all()) == 1


def test_unreachable_server_keeps_message_for_retry_then_gives_up(app, db_session, templates):
    with app.test_request_context():
        _queue(db_session)
        db_session.commit()
    config = {**app.config, "SMTP_PORT": 1, "MAIL_MAX_ATTEMPTS": 2}
    assert send_due(db_session, config) == {"sent": 0, "failed": 0, "retry": 1}
    message = db_session.scalars(select(OutboxMessage)).one()
    assert message.status is OutboxStatus.PENDING and message.attempts == 1 and message.last_error
    assert message.next_attempt_at > utcnow()
    assert send_due(db_session, config)["retry"] == 0, "not due yet"
    message.next_attempt_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert send_due(db_session, config)["failed"] == 1
    assert db_session.scalars(select(OutboxMessage)).one().status is OutboxStatus.FAILED


def test_file_backend_writes_eml(app, db_session, templates, tmp_path):
    with app.test_request_context():
        _queue(db_session)
        db_session.commit()
    config = {**app.config, "MAIL_BACKEND": "file", "MAIL_FILE_DIR": str(tmp_path)}
    assert send_due(db_session, config)["sent"] == 1
    [eml] = list(tmp_path.glob("*.eml"))
    assert b"donor_at_example.jp" in eml.name.encode() and b"Subject:" in eml.read_bytes()


def test_request_that_does_not_commit_leaves_nothing(app, db_session, templates):
    with app.test_request_context():
        _queue(db_session)
    # The app context's teardown rolled the uncommitted message back, as it does for a failed request.
    assert db_session.scalars(select(OutboxMessage)).all() == []
