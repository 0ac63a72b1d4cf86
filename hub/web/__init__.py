"""The pages for stewards and auditors, served by the hub under ``/console``:
server-rendered Jinja2 templates and one style sheet, all shipped in the package (no
script, no CDN: they work offline). Routes translate; ``hub.console`` decides."""

from hub.web.pages import SESSION_COOKIE, console_router, install

__all__ = ["SESSION_COOKIE", "console_router", "install"]
