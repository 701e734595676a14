"""The run's report four ways: readable text for a terminal, JUnit XML for CI dashboards
(one testcase per check), JSON with every failure's requests and answers, and one
self-contained HTML page to hand on (report_html.py).

Evidence reaches all four through `exchange.recorded` (JSON-safe data, see jsonsafe.py);
the text and the HTML are made printable, the XML holds only characters XML allows, the
JSON is strict (no NaN). Nothing a member sent can stop a report from being written.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime

from roam.conformance.checks import CheckResult, Outcome
from roam.conformance.exchange import Evidence, recorded
from roam.conformance.jsonsafe import Json, json_safe, printable, xml_text
from roam.conformance.report_html import render_html

_MARKS = {Outcome.PASS: "PASS", Outcome.FAIL: "FAIL", Outcome.SKIP: "SKIP"}
_COLOURS = {Outcome.PASS: "\x1b[32m", Outcome.FAIL: "\x1b[31m", Outcome.SKIP: "\x1b[33m"}
_RESET = "\x1b[0m"


def evidence_lines(item: Evidence, indent: str) -> list[str]:
    """One request and its answer as indented lines (bodies cut short)."""
    shown = recorded(item)
    data = shown.data
    request = _object(data.get("request"))
    response = data.get("response")
    if data.get("direction") == "?":  # evidence of no known kind: its own summary says what
        lines = [f"{indent}{shown.summary()}"]
    else:
        lines = [f"{indent}{data.get('direction')}: {request.get('method')} {request.get('url')}"]
    for name, value in _object(request.get("headers")).items():
        lines.append(f"{indent}  > {name}: {value}")
    body = request.get("body")
    if isinstance(body, str) and body:
        lines.append(f"{indent}  > {_short(body)}")
    if not isinstance(response, dict):
        lines.append(f"{indent}  < {data.get('error') or 'no answer'}")
        return lines
    lines.append(f"{indent}  < HTTP {response.get('status')}")
    for name, value in _object(response.get("headers")).items():
        lines.append(f"{indent}  < {name}: {value}")
    body = response.get("body")
    if isinstance(body, str) and body:
        lines.append(f"{indent}  < {_short(body)}")
    return lines


def _object(value: Json) -> dict[str, Json]:
    return value if isinstance(value, dict) else {}


def _short(text: str, limit: int = 400) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


@dataclass
class Report:
    role: str
    versions_url: str
    suite_url: str
    member_party: str | None
    results: list[CheckResult]
    started: datetime
    duration: float
    version: str = "2.2.1"
    """The OCPI version the suite spoke to the member (`--version`)."""
    spec_text: str = "OCPI 2.2.1-d2 (tag v2.2.1-d2)"
    """The text whose sections the checks cite."""

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.outcome is Outcome.FAIL]

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (skips allowed), 1 otherwise."""
        return 1 if self.failed else 0

    def outcome_of(self, check_id: str) -> Outcome:
        for result in self.results:
            if result.check.id == check_id:
                return result.outcome
        raise KeyError(check_id)

    def summary(self) -> str:
        return (
            f"{len(self.results)} checks: {self.count(Outcome.PASS)} passed, "
            f"{self.count(Outcome.FAIL)} failed, {self.count(Outcome.SKIP)} skipped "
            f"({self.duration:.1f} s)"
        )

    # --- text ---------------------------------------------------------------------------------
    def render_text(self, colour: bool = False) -> str:
        """The report for a terminal: control characters a member sent are shown escaped."""
        who = f" {self.member_party}" if self.member_party else ""
        lines: list[tuple[str, Outcome | None]] = [
            (
                f"roam conformance: {self.role} member{who} at {self.versions_url} "
                f"(OCPI {self.version})",
                None,
            ),
            (f"suite (acting as the hub) at {self.suite_url}", None),
        ]
        group = ""
        width = max((len(r.check.id) for r in self.results), default=0)
        for result in self.results:
            if result.check.group != group:
                group = result.check.group
                lines += [("", None), (group, None)]
            head = f"{result.check.id.ljust(width)}  {result.check.title}"
            lines.append((head, result.outcome))
            if result.outcome is Outcome.PASS and not result.message:
                continue
            lines.append((f"        {result.message}", None))
            if result.outcome is Outcome.FAIL:
                lines.append((f"        spec: {result.check.spec}", None))
                for item in result.evidence:
                    lines += [(line, None) for line in evidence_lines(item, "        ")]
        lines += [("", None), (self.summary(), None)]
        return "\n".join(self._line(text, outcome, colour) for text, outcome in lines)

    @staticmethod
    def _line(text: str, outcome: Outcome | None, colour: bool) -> str:
        text = printable(text)
        if outcome is None:
            return text
        mark = _MARKS[outcome]
        if colour:
            mark = _COLOURS[outcome] + mark + _RESET
        return f"  {mark}  {text}"

    # --- JSON ---------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Json]:
        """The report as JSON data; JSON-safe throughout (json_safe), evidence as recorded."""
        data = json_safe(
            {
                "role": self.role,
                "version": self.version,
                "spec_text": self.spec_text,
                "versions_url": self.versions_url,
                "suite_url": self.suite_url,
                "member_party": self.member_party,
                "started": self.started.isoformat(),
                "duration_s": round(self.duration, 3),
                "summary": {
                    "checks": len(self.results),
                    "passed": self.count(Outcome.PASS),
                    "failed": self.count(Outcome.FAIL),
                    "skipped": self.count(Outcome.SKIP),
                },
                "checks": [
                    {
                        "id": r.check.id,
                        "title": r.check.title,
                        "spec": r.check.spec,
                        "group": r.check.group,
                        "outcome": r.outcome.value,
                        "message": r.message,
                        "duration_s": round(r.duration, 3),
                        "evidence": [recorded(item).data for item in r.evidence],
                    }
                    for r in self.results
                ],
            }
        )
        assert isinstance(data, dict)
        return data

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False, allow_nan=False)

    # --- HTML ---------------------------------------------------------------------------------
    def html_text(self) -> str:
        """One self-contained HTML page (inline CSS, no script, no external asset)."""
        return render_html(self)

    # --- JUnit XML ----------------------------------------------------------------------------
    def junit_xml(self) -> str:
        """JUnit XML; every text in it passes xml_text, so it parses whatever a member sent."""

        def element(parent: ET.Element | None, tag: str, **attributes: str) -> ET.Element:
            safe = {name: xml_text(value) for name, value in attributes.items()}
            if parent is None:
                return ET.Element(tag, safe)
            return ET.SubElement(parent, tag, safe)

        suites = element(None, "testsuites", name="roam conformance")
        suite = element(
            suites,
            "testsuite",
            name=f"roam conformance ({self.role})",
            tests=str(len(self.results)),
            failures=str(self.count(Outcome.FAIL)),
            errors="0",
            skipped=str(self.count(Outcome.SKIP)),
            time=f"{self.duration:.3f}",
            timestamp=self.started.replace(tzinfo=None).isoformat(timespec="seconds"),
        )
        properties = element(suite, "properties")
        for name, value in (
            ("role", self.role),
            ("version", self.version),
            ("versions_url", self.versions_url),
            ("member_party", self.member_party or ""),
        ):
            element(properties, "property", name=name, value=value)
        for result in self.results:
            case = element(
                suite,
                "testcase",
                classname=f"conformance.{result.check.group}",
                name=result.check.id,
                time=f"{result.duration:.3f}",
            )
            case_properties = element(case, "properties")
            element(case_properties, "property", name="title", value=result.check.title)
            element(case_properties, "property", name="spec", value=result.check.spec)
            if result.outcome is Outcome.FAIL:
                failure = element(
                    case, "failure", message=result.message, type="ConformanceFailure"
                )
                detail = [result.message, f"spec: {result.check.spec}"]
                for item in result.evidence:
                    detail += evidence_lines(item, "")
                failure.text = xml_text("\n".join(detail))
            elif result.outcome is Outcome.SKIP:
                element(case, "skipped", message=result.message)
        ET.indent(suites)
        return ET.tostring(suites, encoding="unicode", xml_declaration=True)
