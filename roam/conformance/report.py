"""The run's report three ways: readable text for a terminal, JUnit XML for CI dashboards
(one testcase per check), and JSON with every failure's requests and answers.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from roam.conformance.checks import CheckResult, Outcome
from roam.conformance.exchange import Evidence

_MARKS = {Outcome.PASS: "PASS", Outcome.FAIL: "FAIL", Outcome.SKIP: "SKIP"}
_COLOURS = {Outcome.PASS: "\x1b[32m", Outcome.FAIL: "\x1b[31m", Outcome.SKIP: "\x1b[33m"}
_RESET = "\x1b[0m"


def evidence_lines(item: Evidence, indent: str) -> list[str]:
    """One request and its answer as indented lines (bodies cut short)."""
    data = item.to_json()
    request, response = data["request"], data.get("response")
    lines = [f"{indent}{data['direction']}: {request['method']} {request['url']}"]
    for name, value in request["headers"].items():
        lines.append(f"{indent}  > {name}: {value}")
    if request.get("body"):
        lines.append(f"{indent}  > {_short(request['body'])}")
    if response is None:
        lines.append(f"{indent}  < {data.get('error') or 'no answer'}")
        return lines
    lines.append(f"{indent}  < HTTP {response['status']}")
    for name, value in response["headers"].items():
        lines.append(f"{indent}  < {name}: {value}")
    if response.get("body"):
        lines.append(f"{indent}  < {_short(response['body'])}")
    return lines


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
        who = f" {self.member_party}" if self.member_party else ""
        lines = [
            f"roam conformance: {self.role} member{who} at {self.versions_url} (OCPI 2.2.1)",
            f"suite (acting as the hub) at {self.suite_url}",
        ]
        group = ""
        width = max((len(r.check.id) for r in self.results), default=0)
        for result in self.results:
            if result.check.group != group:
                group = result.check.group
                lines += ["", group]
            mark = _MARKS[result.outcome]
            if colour:
                mark = _COLOURS[result.outcome] + mark + _RESET
            lines.append(f"  {mark}  {result.check.id.ljust(width)}  {result.check.title}")
            if result.outcome is Outcome.PASS:
                if result.message:
                    lines.append(f"        {result.message}")
                continue
            lines.append(f"        {result.message}")
            if result.outcome is Outcome.FAIL:
                lines.append(f"        spec: {result.check.spec}")
                for item in result.evidence:
                    lines += evidence_lines(item, "        ")
        lines += ["", self.summary()]
        return "\n".join(lines)

    # --- JSON ---------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
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
                    "evidence": [item.to_json() for item in r.evidence],
                }
                for r in self.results
            ],
        }

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False)

    # --- JUnit XML ----------------------------------------------------------------------------
    def junit_xml(self) -> str:
        suites = ET.Element("testsuites", name="roam conformance")
        suite = ET.SubElement(
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
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("role", self.role),
            ("versions_url", self.versions_url),
            ("member_party", self.member_party or ""),
        ):
            ET.SubElement(properties, "property", name=name, value=value)
        for result in self.results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"conformance.{result.check.group}",
                name=result.check.id,
                time=f"{result.duration:.3f}",
            )
            case_properties = ET.SubElement(case, "properties")
            ET.SubElement(case_properties, "property", name="title", value=result.check.title)
            ET.SubElement(case_properties, "property", name="spec", value=result.check.spec)
            if result.outcome is Outcome.FAIL:
                failure = ET.SubElement(
                    case, "failure", message=result.message, type="ConformanceFailure"
                )
                detail = [result.message, f"spec: {result.check.spec}"]
                for item in result.evidence:
                    detail += evidence_lines(item, "")
                failure.text = "\n".join(detail)
            elif result.outcome is Outcome.SKIP:
                ET.SubElement(case, "skipped", message=result.message)
        ET.indent(suites)
        return ET.tostring(suites, encoding="unicode", xml_declaration=True)
