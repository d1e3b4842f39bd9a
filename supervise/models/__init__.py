"""The data model. Importing this package registers every table on Base."""
from .archive import ExportFormat, IssuedReport
from .audit import AuditEntry
from .calendar import CalendarDay
from .notifications import Notification
from .plans import (
    FiscalMeasure,
    Plan,
    PlanKind,
    PlanStatus,
    ReportingFrequency,
    ReportingPeriod,
    Section,
    Target,
    TargetAllocation,
    TargetKind,
    Task,
    TaskSource,
    TaskState,
    TaskUnit,
    UnitRole,
)
from .reports import (
    Evidence,
    ExtensionRequest,
    ExtensionState,
    Milestone,
    MilestoneState,
    Report,
    ReportInclusion,
    ReportKind,
    ReportState,
    ReportValue,
    ReportVersion,
)
from .reminders import Channel, Delivery, DeliveryState, SchedulerJob
from .security import PasswordHistory
from .units import Unit, UnitAlias, UnitKind
from .users import ApiToken, Role, User, UserRole

__all__ = [
    "ApiToken", "AuditEntry", "CalendarDay", "Channel", "Delivery", "DeliveryState", "SchedulerJob", "Evidence",
    "ExportFormat", "ExtensionRequest", "ExtensionState", "FiscalMeasure", "IssuedReport", "Milestone",
    "MilestoneState", "Notification", "PasswordHistory", "Plan", "PlanKind", "PlanStatus", "Report",
    "ReportInclusion", "ReportKind", "ReportState", "ReportValue", "ReportVersion",
    "ReportingFrequency", "ReportingPeriod", "Role", "Section", "Target", "TargetAllocation", "TaskSource",
    "TargetKind", "Task", "TaskState", "TaskUnit", "Unit", "UnitAlias", "UnitKind", "UnitRole",
    "User", "UserRole",
]
