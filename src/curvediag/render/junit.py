"""JUnit XML: one test suite per log, one test case per rule that ran; a failure for each
finding at or above --fail-on, a skip for each rule that could not run.  An input that could
not be read is a suite with one test case in error (counted in ``errors``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from ..report import Unreadable
from ..report import severity_rank
from . import printable

if TYPE_CHECKING:
    from ..report import Batch

# characters XML 1.0 does not allow (and C1 controls, DEL): shown escaped, so the document stays valid
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _x(text: str) -> str:
    """Text for an element's body: newlines kept, every character XML cannot hold escaped."""
    return _NOT_XML.sub(lambda m: printable(m.group()) if ord(m.group()) < 0xFFFE else f"\\u{ord(m.group()):04x}", text)


def render(batch: "Batch") -> str:
    fail_on = batch.settings.fail_on
    limit = None if fail_on == "never" else severity_rank(fail_on)
    suites = ET.Element("testsuites", name="curvediag")
    total = total_fail = total_skip = total_err = 0
    for r in batch.items:
        if isinstance(r, Unreadable):
            suite = ET.SubElement(suites, "testsuite", name=printable(r.path))
            case = ET.SubElement(suite, "testcase", classname=printable(r.path), name="read")
            ET.SubElement(case, "error", type="unreadable", message=printable(r.problem))
            for key, value in (("tests", 1), ("failures", 0), ("skipped", 0), ("errors", 1)):
                suite.set(key, str(value))
            total, total_err = total + 1, total_err + 1
            continue
        suite = ET.SubElement(suites, "testsuite", name=printable(r.source.path))
        if r.projection is not None:
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", name="curvediag.projection", value=printable(r.projection.summary()))
        found = {f.code: f for f in r.findings}
        skipped = {s.code: s for s in r.skipped}
        n = fails = skips = 0
        for code, name in batch.rules:
            n += 1
            case = ET.SubElement(suite, "testcase", classname=printable(r.source.path), name=f"{code} {name}")
            f = found.get(code)
            if f is not None and limit is not None and severity_rank(f.severity) >= limit:
                fails += 1
                el = ET.SubElement(case, "failure", type=f.severity, message=printable(f.message))
                el.text = _x(f.message + ("\n\nRemedies:\n- " + "\n- ".join(f.remedies) if f.remedies else ""))
            elif f is not None:
                out = ET.SubElement(case, "system-out")
                out.text = _x(f"{f.severity}: {f.message}")
            elif code in skipped:
                skips += 1
                ET.SubElement(case, "skipped", message=printable(skipped[code].reason))
        suite.set("tests", str(n))
        suite.set("failures", str(fails))
        suite.set("skipped", str(skips))
        suite.set("errors", "0")
        total, total_fail, total_skip = total + n, total_fail + fails, total_skip + skips
    suites.set("tests", str(total))
    suites.set("failures", str(total_fail))
    suites.set("skipped", str(total_skip))
    if total_err:  # the attribute is optional: a clean batch keeps the document it always had
        suites.set("errors", str(total_err))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
