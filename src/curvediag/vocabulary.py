"""The words settings, reports and the command line share, each spelled once.

* :class:`Severity`: how bad a finding or a report is (``ok`` < ``info`` < ``warning`` < ``error``);
  :data:`FAIL_ON` (``--fail-on``, ``fail-on =``) is ``never`` and every severity a finding can fail on.
* :class:`OutputFormat`: the output formats (``--format``, ``format =``), each with its other names
  and the file extension ``--output`` recognises it by.  The renderer of each is
  :data:`curvediag.render.RENDERERS`; ``--format``'s help is :func:`format_help`.

The input formats (``--input-format``) are the reader table's: :data:`curvediag.readers.INPUT_FORMATS`.
Nothing here imports anything of curvediag's: it is the bottom of the package.
"""

from __future__ import annotations

from enum import Enum


class Severity(str, Enum):
    """The severities, mildest first: a member compares and serialises as its value (``"warning"``)."""

    ok = "ok"
    info = "info"
    warning = "warning"
    error = "error"

    @property
    def rank(self) -> int:
        """0 for ``ok``, 3 for ``error``."""
        return _RANK[self.value]

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


_RANK = {s.value: i for i, s in enumerate(Severity)}

#: the severities a report or a finding has, mildest first
SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)


def severity_rank(sev: str) -> int:
    """The rank of a severity given as a member or its value (ValueError for another word)."""
    try:
        return _RANK[sev]
    except KeyError:
        raise ValueError(f"{sev!r} is not a severity (severities: {', '.join(SEVERITIES)})") from None


#: ``--fail-on``: never fail, or fail on a finding at least this severe
FAIL_ON: tuple[str, ...] = ("never", *(s.value for s in Severity if s is not Severity.ok))
#: the same choices as an enum (the command line's ``--fail-on`` and ``--annotate``)
FailOn = Enum("FailOn", [(v, v) for v in FAIL_ON], type=str)  # type: ignore[misc]


class OutputFormat(str, Enum):
    """The output formats (``--format``, ``format =`` in the configuration), in the order help lists them.

    Each member's value is its name; :attr:`extension` is the ``--output`` file extension that chooses
    it (None: only ``--output-format`` does); :attr:`alias_of` is set on another name of a format."""

    # value, --output extension, the format it is another name for
    text = ("text", ".txt", None)
    json = ("json", ".json", None)
    jsonl = ("jsonl", ".jsonl", None)
    markdown = ("markdown", ".md", None)
    github = ("github", None, None)
    junit = ("junit", ".xml", None)
    sarif = ("sarif", ".sarif", None)
    gitlab = ("gitlab", None, None)
    gitlab_metrics = ("gitlab-metrics", ".prom", None)
    azure = ("azure", None, None)
    #: another name for ``jsonl`` (as ruff and others spell it); settings hold ``jsonl``
    json_lines = ("json-lines", None, "jsonl")

    extension: str | None
    alias_of: str | None

    def __new__(cls, value: str, extension: str | None = None, alias_of: str | None = None) -> "OutputFormat":
        member = str.__new__(cls, value)
        member._value_ = value
        member.extension = extension
        member.alias_of = alias_of
        return member

    @property
    def canonical(self) -> "OutputFormat":
        """The format an alias names (``json-lines`` -> ``jsonl``); a format itself otherwise."""
        return OutputFormat(self.alias_of) if self.alias_of else self


#: other names of a format -> the format
ALIASES: dict[str, str] = {f.value: f.alias_of for f in OutputFormat if f.alias_of}
#: --output's file extensions -> the format each chooses
EXTENSIONS: dict[str, str] = {f.extension: f.value for f in OutputFormat if f.extension}


def format_help(default: str = "text") -> str:
    """``--format``'s help: every format, the default first marked, each alias after its format."""
    names = []
    for f in OutputFormat:
        if f.alias_of:
            continue
        aliases = [a for a, of in ALIASES.items() if of == f.value]
        names.append(f.value + (" (default)" if f.value == default else "") + (f" (or {', '.join(aliases)})" if aliases else ""))
    return "Output format: " + ", ".join(names[:-1]) + " or " + names[-1] + "."


__all__ = ["ALIASES", "EXTENSIONS", "FAIL_ON", "FailOn", "OutputFormat", "SEVERITIES", "Severity", "format_help",
           "severity_rank"]
