"""The small HTML pages of email unsubscribe (`worker.api.unsubscribe`), in English or Spanish.

GET shows a confirmation page with a button (link scanners prefetch GETs, so a GET never opts
out); the button POSTs to the same URL, which is also the RFC 8058 one-click target.
"""

from __future__ import annotations

from html import escape

TEXT = {
    "en": {
        "title": "Unsubscribe from emails",
        "ask": "Stop getting these health education emails?",
        "button": "Unsubscribe",
        "done_title": "You are unsubscribed",
        "done": "You will not get more of these emails. Text messages, if any, are not affected.",
        "missing_title": "Link not valid",
        "missing": "This unsubscribe link is not valid or has expired.",
    },
    "es": {
        "title": "Cancelar la suscripción a los correos",
        "ask": "¿Dejar de recibir estos correos de educación sobre su salud?",
        "button": "Cancelar suscripción",
        "done_title": "Su suscripción fue cancelada",
        "done": "No recibirá más estos correos. Los mensajes de texto, si los hay, no cambian.",
        "missing_title": "Enlace no válido",
        "missing": "Este enlace para cancelar la suscripción no es válido o ha vencido.",
    },
}


def _page(language: str, title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title></head>"
        '<body style="font-family: sans-serif; max-width: 32em; margin: 2em auto; padding: 0 1em">'
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )


def _text(language: str) -> dict[str, str]:
    return TEXT.get(language, TEXT["en"])


def confirm_page(language: str) -> str:
    """The question and a button; the form posts back to the page's own URL."""
    t = _text(language)
    form = (
        '<form method="post">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">{escape(t["button"])}</button></form>'
    )
    return _page(language, t["title"], f"<p>{escape(t['ask'])}</p>{form}")


def done_page(language: str) -> str:
    t = _text(language)
    return _page(language, t["done_title"], f"<p>{escape(t['done'])}</p>")


def missing_page() -> str:
    t = _text("en")
    return _page("en", t["missing_title"], f"<p>{escape(t['missing'])}</p>")
