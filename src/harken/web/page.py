"""Server-rendered HTML of the respondent page. Every dynamic value goes through `escape`."""

from __future__ import annotations

from html import escape

from harken.conversations.agent.phrases import language_code
from harken.conversations.respondent_schemas import RespondentState

UI: dict[str, dict[str, str]] = {
    "en": {
        "start": "Start the interview",
        "send": "Send",
        "end": "End interview",
        "placeholder": "Type your answer…",
        "progress": "Progress",
        "done": "Interview complete",
        "you": "You",
        "interviewer": "Interviewer",
        "thinking": "The interviewer is typing…",
        "not_found": "This interview link is not valid. Please check the link in your invitation.",
        "end_confirm": "End the interview now?",
        "error": "Something went wrong. Please try again.",
    },
    "fr": {
        "start": "Commencer l'entretien",
        "send": "Envoyer",
        "end": "Terminer l'entretien",
        "placeholder": "Écrivez votre réponse…",
        "progress": "Progression",
        "done": "Entretien terminé",
        "you": "Vous",
        "interviewer": "Interviewer",
        "thinking": "L'interviewer écrit…",
        "not_found": "Ce lien d'entretien n'est pas valide. Vérifiez le lien de votre invitation.",
        "end_confirm": "Terminer l'entretien maintenant ?",
        "error": "Une erreur s'est produite. Veuillez réessayer.",
    },
    "de": {
        "start": "Interview starten",
        "send": "Senden",
        "end": "Interview beenden",
        "placeholder": "Ihre Antwort…",
        "progress": "Fortschritt",
        "done": "Interview abgeschlossen",
        "you": "Sie",
        "interviewer": "Interviewer",
        "thinking": "Der Interviewer schreibt…",
        "not_found": "Dieser Interview-Link ist ungültig. Bitte prüfen Sie den Link in Ihrer Einladung.",
        "end_confirm": "Interview jetzt beenden?",
        "error": "Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.",
    },
    "es": {
        "start": "Empezar la entrevista",
        "send": "Enviar",
        "end": "Terminar la entrevista",
        "placeholder": "Escriba su respuesta…",
        "progress": "Progreso",
        "done": "Entrevista completada",
        "you": "Usted",
        "interviewer": "Entrevistador",
        "thinking": "El entrevistador está escribiendo…",
        "not_found": "Este enlace de entrevista no es válido. Revise el enlace de su invitación.",
        "end_confirm": "¿Terminar la entrevista ahora?",
        "error": "Algo salió mal. Inténtelo de nuevo.",
    },
    "nl": {
        "start": "Start het interview",
        "send": "Versturen",
        "end": "Interview beëindigen",
        "placeholder": "Typ je antwoord…",
        "progress": "Voortgang",
        "done": "Interview afgerond",
        "you": "Jij",
        "interviewer": "Interviewer",
        "thinking": "De interviewer typt…",
        "not_found": "Deze interviewlink is niet geldig. Controleer de link in je uitnodiging.",
        "end_confirm": "Het interview nu beëindigen?",
        "error": "Er ging iets mis. Probeer het opnieuw.",
    },
}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # The token is in the URL: never send it to another site in a Referer header.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def ui(language: str | None) -> dict[str, str]:
    return UI[language_code(language)] if language_code(language) in UI else UI["en"]


def _paragraphs(text: str | None) -> str:
    if not text:
        return ""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    return "".join(f"<p>{escape(b).replace(chr(10), '<br>')}</p>" for b in blocks)


def _head(title: str, lang: str) -> str:
    return (
        f'<!doctype html>\n<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n<link rel="icon" href="data:,">\n'
        f"<title>{escape(title)}</title>\n"
        '<link rel="stylesheet" href="/static/respond.css">\n</head>\n'
    )


def render_page(token: str, state: RespondentState) -> str:
    lang = language_code(state.campaign.language)
    t = ui(lang)
    started = any(m.speaker == "participant" for m in state.messages)
    completed = state.status == "completed"
    percent = round(state.progress * 100)
    messages = "".join(
        f'<li class="msg {escape(m.speaker)}"><span class="who">'
        f"{escape(t['you'] if m.speaker == 'participant' else t['interviewer'])}</span>"
        f"<p>{escape(m.text)}</p></li>"
        for m in state.messages
    )
    welcome = _paragraphs(state.campaign.welcome_screen)
    closing_text = state.campaign.closing_message or (state.messages[-1].text if state.messages else "")
    notice = escape(state.notice) if state.notice and not completed else ""
    composer_hidden = " hidden" if (completed or not state.accepting_messages) else ""
    return (
        _head(state.campaign.name, lang)
        + f'<body>\n<main class="shell" id="app" data-token="{escape(token)}" data-status="{escape(state.status)}" '
        f'data-started="{"true" if started else "false"}" data-error="{escape(t["error"])}" '
        f'data-end-confirm="{escape(t["end_confirm"])}" data-you="{escape(t["you"])}" '
        f'data-interviewer="{escape(t["interviewer"])}">\n'
        f'<header class="top">\n<h1 id="title">{escape(state.campaign.name)}</h1>\n'
        f'<label class="progress-label" for="progress">{escape(t["progress"])} '
        f'<span id="progress-text">{percent}%</span></label>\n'
        f'<progress id="progress" max="100" value="{percent}">{percent}%</progress>\n</header>\n'
        + (
            f'<section id="welcome" class="welcome">{welcome}'
            f'<button type="button" id="start" class="primary" hidden>{escape(t["start"])}</button></section>\n'
            if welcome and not completed
            else ""
        )
        + f'<section id="chat" class="chat" aria-live="polite">\n<ol id="messages">{messages}</ol>\n'
        f'<p id="thinking" class="thinking" hidden>{escape(t["thinking"])}</p>\n</section>\n'
        f'<section id="closing" class="closing"{"" if completed else " hidden"}>\n'
        f'<h2>{escape(t["done"])}</h2>\n<p id="closing-text">{escape(closing_text)}</p>\n</section>\n'
        f'<p id="notice" class="notice" role="status"{"" if notice else " hidden"}>{notice}</p>\n'
        f'<form id="composer" class="composer" method="post" action="/i/{escape(token)}"{composer_hidden}>\n'
        f'<textarea id="answer" name="text" rows="3" maxlength="10000" placeholder="{escape(t["placeholder"])}" '
        f'aria-label="{escape(t["placeholder"])}"></textarea>\n'
        f'<div class="actions"><button type="submit" id="send" class="primary">{escape(t["send"])}</button>\n'
        f'<button type="submit" id="end" class="secondary" formaction="/i/{escape(token)}/end">'
        f"{escape(t['end'])}</button></div>\n</form>\n</main>\n"
        '<script src="/static/respond.js" defer></script>\n</body>\n</html>\n'
    )


def render_not_found(language: str = "en") -> str:
    t = ui(language)
    return (
        _head("Harken", language)
        + f'<body>\n<main class="shell"><section class="closing"><p>{escape(t["not_found"])}</p></section></main>\n'
        "</body>\n</html>\n"
    )
