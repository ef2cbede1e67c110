"""SQLModel tables, one module per domain. Importing this package registers them all."""

from models.access import AuthSession, LoginFailure, PortalToken, StaffToken, TokenPurpose
from models.appointment import Appointment, AppointmentStatus
from models.business import Business
from models.contract import Contract, ContractStatus
from models.customer import Customer, PortalStatus
from models.invoice import (
    Invoice,
    InvoiceCounter,
    InvoiceLineItem,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    StripeEvent,
)
from models.job import Job, JobNote, JobStatus, JobStatusChange, Photo, PhotoStage
from models.message import Message
from models.staff import StaffInvitation, StaffMember, StaffRole

__all__ = [
    "Appointment",
    "AppointmentStatus",
    "AuthSession",
    "Business",
    "Contract",
    "ContractStatus",
    "Customer",
    "Invoice",
    "InvoiceCounter",
    "InvoiceLineItem",
    "InvoiceStatus",
    "Job",
    "JobNote",
    "JobStatus",
    "JobStatusChange",
    "LoginFailure",
    "Payment",
    "PaymentMethod",
    "PaymentStatus",
    "Message",
    "Photo",
    "PhotoStage",
    "PortalStatus",
    "PortalToken",
    "StaffInvitation",
    "StaffMember",
    "StaffRole",
    "StaffToken",
    "StripeEvent",
    "TokenPurpose",
]
