from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length


class ReasonForm(FlaskForm):
    """Void and 再発行 both need a written reason; it goes to the audit log."""

    reason = TextAreaField(
        _l("理由"), validators=[DataRequired(message=_l("理由を入力してください。")), Length(max=500)]
    )


class ActionForm(FlaskForm):
    """A bare POST (resend): only the CSRF token."""
