"""Imports every domain's models so ``Base.metadata`` is complete (Alembic, tests, create_all)."""

from kyodo_fund.accounts.models import AccountToken, User  # noqa: F401
from kyodo_fund.audit.models import AuditEntry  # noqa: F401
from kyodo_fund.certification.models import (  # noqa: F401
    AnnualFiling,
    CertificationRecord,
    FiscalRevenue,
    LegalStatus,
    LegalStatusEvent,
    ReminderSent,
)
from kyodo_fund.donations.models import (  # noqa: F401
    Donation,
    DonationImport,
    RecurringDonation,
    StripeEvent,
)
from kyodo_fund.jobs.models import JobLock, JobRun  # noqa: F401
from kyodo_fund.ledger.models import LedgerAccount, LedgerEntry, LedgerGroup  # noqa: F401
from kyodo_fund.notifications.models import OutboxAttachment, OutboxMessage  # noqa: F401
from kyodo_fund.orgs.models import (  # noqa: F401
    Membership,
    Officer,
    OrgActivityCategory,
    Organisation,
    OrgDocument,
    OrgInvitation,
    OrgStrength,
)
from kyodo_fund.projects.models import (  # noqa: F401
    ActivityReport,
    BudgetLine,
    OutcomeTarget,
    Project,
    ProjectPartner,
    ProjectPhaseChange,
    ReportValue,
)
from kyodo_fund.receipts.models import Receipt, ReceiptCounter, ReceiptedGift, ReceiptHold  # noqa: F401
