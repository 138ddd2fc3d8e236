"""Access rules shared by views. Objects a user may not see answer 404, never 403."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user, login_required


# Roles are compared by value ("reviewer", "admin"; UserRole is a StrEnum) so this module does not
# import accounts, which would make an import cycle through the blueprints.
def role_required(*roles: str) -> Callable:
    """Only users with one of ``roles``; everybody else (signed in) gets 404."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapped

    return decorator


staff_required = role_required("reviewer", "admin")
admin_required = role_required("admin")


def found_or_404(obj: Any, allowed: bool = True) -> Any:
    if obj is None or not allowed:
        abort(404)
    return obj
