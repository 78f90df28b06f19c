"""Notifiers hand invitations and reminders to people: email over SMTP when `HARKEN_SMTP_HOST`
is set, otherwise the log (so a self-hosted install without mail still shows every link).

    notifier = get_notifier(settings)
    await notifier.send(build_invitation(campaign, contact, meeting_url))
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any, Protocol

from harken.core.settings import Settings

logger = logging.getLogger("harken.notifier")

DEFAULT_INVITATION = (
    "Hi {first_name},\n\n"
    "You're invited to a short interview for {campaign}. It takes about {minutes} minutes and you can do it "
    "whenever it suits you, in your browser:\n\n{link}\n\nThank you for your time!"
)
DEFAULT_REMINDER = (
    "Hi {first_name},\n\nA friendly reminder about the interview for {campaign}. Your personal link:\n\n{link}\n\n"
    "Thank you!"
)


@dataclass(frozen=True)
class Notification:
    kind: str  # invitation | reminder
    to_name: str
    to_email: str | None
    subject: str
    text: str
    meeting_url: str
    workspace_id: str | None = None
    contact_id: str | None = None


class Notifier(Protocol):
    name: str

    async def send(self, notification: Notification) -> None: ...


class LogNotifier:
    """No delivery channel configured: the invitation (with its link) goes to the log."""

    name = "log"

    async def send(self, notification: Notification) -> None:
        logger.info(
            "%s for %s <%s>: %s",
            notification.kind,
            notification.to_name,
            notification.to_email or "no email",
            notification.meeting_url,
            extra={
                "notification": notification.kind,
                "contact_id": notification.contact_id,
                "workspace_id": notification.workspace_id,
                "meeting_url": notification.meeting_url,
            },
        )


class SmtpNotifier:
    """Plain-text email through an SMTP server (STARTTLS and login when configured)."""

    name = "smtp"

    def __init__(self, settings: Settings, *, timeout: float = 30.0) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpNotifier needs HARKEN_SMTP_HOST")
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.sender = settings.smtp_from
        self.starttls = settings.smtp_starttls
        self.timeout = timeout

    def message(self, notification: Notification) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = formataddr((_header(notification.to_name), notification.to_email or ""))
        message["Subject"] = _header(notification.subject)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or "localhost")
        message["X-Harken-Notification"] = notification.kind
        message.set_content(notification.text)
        return message

    def _send_sync(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)

    async def send(self, notification: Notification) -> None:
        if not notification.to_email:
            await LogNotifier().send(notification)
            return
        await asyncio.to_thread(self._send_sync, self.message(notification))
        logger.info("%s emailed to %s", notification.kind, notification.to_email)


def get_notifier(settings: Settings) -> Notifier:
    return SmtpNotifier(settings) if settings.smtp_host else LogNotifier()


def meeting_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/i/{token}"


def _header(value: str) -> str:
    """Header values on one line (a campaign name can't inject headers)."""
    return " ".join(str(value).split())[:300]


def _fill(template: str, values: dict[str, Any]) -> str:
    """Replace the known `{placeholders}` (also `{{placeholder}}`); leave any other braces alone."""
    text = template
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value)).replace("{" + key + "}", str(value))
    return text


def _compose(template: str | None, default: str, campaign: Any, contact: Any, link: str, extra: str = "") -> str:
    name = (contact.name or "").strip()
    values = {
        "name": name,
        "first_name": name.split()[0] if name else "there",
        "campaign": campaign.name,
        "minutes": campaign.interview_duration_minutes or 30,
        "link": link,
        "meeting_url": link,
        "url": link,
        "message": extra,
    }
    text = _fill(template.strip() if template and template.strip() else default, values)
    if link not in text:
        text = f"{text}\n\n{link}"
    return text


def build_invitation(campaign: Any, contact: Any, link: str) -> Notification:
    return Notification(
        kind="invitation",
        to_name=contact.name,
        to_email=contact.email,
        subject=f"Invitation: {campaign.name}",
        text=_compose(campaign.invitation_email_message, DEFAULT_INVITATION, campaign, contact, link),
        meeting_url=link,
        workspace_id=contact.workspace_id,
        contact_id=contact.id,
    )


def build_reminder(campaign: Any, contact: Any, link: str, message: str | None = None) -> Notification:
    template = None
    if message and message.strip():
        template = message if "{link}" in message or "{meeting_url}" in message else f"{message.strip()}\n\n{{link}}"
    return Notification(
        kind="reminder",
        to_name=contact.name,
        to_email=contact.email,
        subject=f"Reminder: {campaign.name}",
        text=_compose(template, DEFAULT_REMINDER, campaign, contact, link),
        meeting_url=link,
        workspace_id=contact.workspace_id,
        contact_id=contact.id,
    )
