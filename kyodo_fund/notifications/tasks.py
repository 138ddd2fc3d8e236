from sqlalchemy.orm import Session

from kyodo_fund.notifications.sender import send_due


def send_outbox(session: Session, config: dict) -> dict:
    """Scheduled: deliver due outbox messages (each committed on its own)."""
    return send_due(session, config)
