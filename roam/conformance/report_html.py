"""The run's report as one self-contained HTML page a member can hand to the alliance operator:
the verdict per group, every failure with its spec section and the requests and answers that
showed it, then every check. Inline CSS, no script, no external asset of any kind.

Every text passes `printable` (control characters and lone surrogates as escapes) and
`html.escape`, so whatever a member sent is shown, never interpreted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from typing import TYPE_CHECKING

from roam.conformance.checks import CheckResult, Outcome
from roam.conformance.exchange import Evidence, recorded
from roam.conformance.jsonsafe import Json, printable

if TYPE_CHECKING:
    from roam.conformance.report import Report

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05em; margin: 0 0 .3em; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { text-align: left; padding: .25em .6em; border-bottom: 1px solid #e4e4e4;
         vertical-align: top; }
code, pre { font: 13px/1.35 ui-monospace, monospace; }
p, h3 code, .exchange code { overflow-wrap: anywhere; }
td + td { overflow-wrap: anywhere; }  /* long URLs and messages, not the first column */
pre { white-space: pre-wrap; word-break: break-all; background: #f6f6f6; padding: .5em;
      margin: .3em 0; border-radius: 3px; }
.verdict { font-weight: bold; padding: .1em .5em; border-radius: 3px; color: #fff; }
.PASS .verdict, .verdict.PASS { background: #2e7d32; }
.FAIL .verdict, .verdict.FAIL { background: #c62828; }
.SKIP .verdict, .verdict.SKIP { background: #9e6a00; }
.failure { border-left: 4px solid #c62828; padding: .2em 1em; margin: 1em 0; }
.meta { color: #555; }
.exchange { margin: .6em 0; }
@media (max-width: 40em) {  /* a phone: tighter cells, so the tables fit without scrolling */
  body { margin: 1em auto; padding: 0 .5em; }
  th, td { padding: .2em .3em; }
  .failure { padding: .2em .5em; }
}
"""

_OUTCOMES = (Outcome.PASS, Outcome.FAIL, Outcome.SKIP)


def _t(text: object) -> str:
    """Any value as HTML text: printable, escaped."""
    return escape(printable(str(text)), quote=True)


def _obj(value: Json) -> dict[str, Json]:
    return value if isinstance(value, dict) else {}


def _body(body: Json) -> str:
    if not isinstance(body, str) or not body:
        return ""
    try:  # indented for reading; a body nested too deep to parse is shown as it came
        shown = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        shown = body
    return f"<pre class='body'>{_t(shown)}</pre>"


def _headers(headers: Json, mark: str) -> str:
    lines = [f"{mark} {name}: {value}" for name, value in _obj(headers).items()]
    return f"<pre class='headers'>{_t(chr(10).join(lines))}</pre>" if lines else ""


def _exchange(item: Evidence) -> str:
    """One request and its answer, as recorded (exchange.recorded)."""
    shown = recorded(item)
    data = shown.data
    request, response = _obj(data.get("request")), data.get("response")
    if data.get("direction") == "?":
        head = _t(shown.summary())
    else:
        head = (
            f"{_t(data.get('direction'))}: <code class='request'>"
            f"{_t(request.get('method'))} {_t(request.get('url'))}</code>"
        )
    parts = [f"<div class='exchange'><div>{head}</div>"]
    parts += [_headers(request.get("headers"), ">"), _body(request.get("body"))]
    if isinstance(response, dict):
        parts.append(f"<div>answer: <code class='status'>HTTP {_t(response.get('status'))}</code>")
        parts.append("</div>")
        parts += [_headers(response.get("headers"), "<"), _body(response.get("body"))]
    else:
        parts.append(f"<div>no answer: {_t(data.get('error') or 'none recorded')}</div>")
    parts.append("</div>")
    return "".join(parts)


def _verdict(outcome: Outcome) -> str:
    return f"<span class='verdict {outcome.value}'>{outcome.value}</span>"


def _group_outcome(results: list[CheckResult]) -> Outcome:
    if any(r.outcome is Outcome.FAIL for r in results):
        return Outcome.FAIL
    if results and all(r.outcome is Outcome.SKIP for r in results):
        return Outcome.SKIP
    return Outcome.PASS


def _groups(results: Iterable[CheckResult]) -> dict[str, list[CheckResult]]:
    grouped: dict[str, list[CheckResult]] = {}
    for result in results:
        grouped.setdefault(result.check.group, []).append(result)
    return grouped


def _failure(result: CheckResult) -> str:
    check = result.check
    evidence = "".join(_exchange(item) for item in result.evidence)
    return (
        f"<section class='failure FAIL' id='fail-{_t(check.id)}' data-check='{_t(check.id)}' "
        f"data-outcome='FAIL'><h3>{_verdict(Outcome.FAIL)} <code>{_t(check.id)}</code> "
        f"{_t(check.title)}</h3><p class='message'>{_t(result.message)}</p>"
        f"<p class='spec'>spec: {_t(check.spec)}</p>"
        + (evidence or "<p class='meta'>no request to show</p>")
        + "</section>"
    )


def render_html(report: Report) -> str:
    """The whole page."""
    grouped = _groups(report.results)
    overall = Outcome.FAIL if report.failed else Outcome.PASS
    who = f" {report.member_party}" if report.member_party else ""
    title = f"roam conformance: {report.role} member{who}"
    rows = []
    for group, results in grouped.items():
        counts = [sum(1 for r in results if r.outcome is o) for o in _OUTCOMES]
        outcome = _group_outcome(results)
        rows.append(
            f"<tr class='{outcome.value}' data-group='{_t(group)}' "
            f"data-outcome='{outcome.value}'><td><a href='#group-{_t(group)}'>{_t(group)}</a>"
            f"</td><td>{_verdict(outcome)}</td>"
            + "".join(f"<td>{n}</td>" for n in counts)
            + "</tr>"
        )
    failures = [_failure(r) for r in report.failed]
    sections = []
    for group, results in grouped.items():
        lines = []
        for r in results:
            check = r.check
            name = f"<code>{_t(check.id)}</code>"
            if r.outcome is Outcome.FAIL:
                name = f"<a href='#fail-{_t(check.id)}'>{name}</a>"
            lines.append(
                f"<tr class='{r.outcome.value}' data-check='{_t(check.id)}' "
                f"data-outcome='{r.outcome.value}'><td>{_verdict(r.outcome)}</td><td>{name}"
                f"<br>{_t(check.title)}</td><td>{_t(r.message)}</td>"
                f"<td class='meta'>{_t(check.spec)}</td></tr>"
            )
        sections.append(
            f"<h3 id='group-{_t(group)}'>{_t(group)}</h3><table><tr><th></th><th>check</th>"
            f"<th>result</th><th>spec ({_t(report.spec_text)})</th></tr>"
            + "".join(lines)
            + "</table>"
        )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_t(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_t(title)} {_verdict(overall)}</h1>"
        f"<p class='meta'>member versions URL <code>{_t(report.versions_url)}</code>, OCPI "
        f"{_t(report.version)}; the suite acted as the hub at "
        f"<code>{_t(report.suite_url)}</code>; started "
        f"{_t(report.started.isoformat(timespec='seconds'))}</p>"
        f"<p class='summary'>{_t(report.summary())}</p>"
        "<h2>Verdict per group</h2><table class='groups'><tr><th>group</th><th>verdict</th>"
        "<th>passed</th><th>failed</th><th>skipped</th></tr>" + "".join(rows) + "</table>"
        f"<h2 id='failures'>Failures ({len(failures)})</h2>"
        + ("".join(failures) or "<p>No check failed.</p>")
        + "<h2>Every check</h2>"
        + "".join(sections)
        + f"<p class='meta'>Sections as in {_t(report.spec_text)} (repository ocpi/ocpi). "
        "Written by roam conformance.</p></body></html>\n"
    )
