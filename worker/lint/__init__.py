"""The content checks behind `caredrip lint`: every program, every language, every step.

`lint_content` loads each program under the content dir and reports, one line each, what would
hurt a patient or break the contract: a template that does not render, an SMS over its segment
budget (with long realistic sample values and the real first name: needing the fallback name is a
problem too), English SMS that is not GSM-7, a first SMS without the sender and STOP / HELP,
steps out of time order or inside quiet hours, a step that the frequency caps would hold back for
some enrollment time, a missing translation, English above grade 8, and a released version
broken (worker.lint.versions: a frozen file missing or edited, an edit without a new version, a
step id retimed across versions). Problem lines read
`<program>/<lang>/<step>.<key>: <rule>: <detail>` for words and `<file>: <step>: <rule>: <detail>`
for timing; each names its rule (`render error`, `over budget`, `not GSM-7`, `first SMS`,
`out of order`, `quiet hours`, `caps`, `missing translation`, `reading level`, `version`).

`report` runs the rules and collects the lines; `words` holds the rules about what a message says,
`timing` those about when it goes.
"""

from worker.lint.report import LintReport, lint_content

__all__ = ["LintReport", "lint_content"]
