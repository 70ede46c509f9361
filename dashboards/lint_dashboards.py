#!/usr/bin/env python3
"""Lint Porthole's Grafana dashboards and Prometheus rule files (standard library only).

Usage:
  lint_dashboards.py [FILE...]                 lint FILEs (default: dashboards/*.json and
                                               dashboards/rules/*.yml); exit 1 naming every problem
  lint_dashboards.py --expect-fail FILE...     lint self-test: succeed only if every FILE is
                                               rejected, each problem a fixture lists under
                                               "x-lint-expect" is reported and none it lists
                                               under "x-lint-forbid" is
  lint_dashboards.py --list-queries [FILE...]  print every PromQL query of the dashboards and rule
                                               files as JSON lines {"source", "expr", "kind", ...}:
                                               kind panel (+ refId), variable (+ name; Grafana
                                               variable query), alert or record (+ name, group)
  lint_dashboards.py --check-promql PROMTOOL [FILE...]
                                               also have `promtool check rules` parse every
                                               dashboard query (Grafana variables substituted)

Dashboard rules (every dashboards/*.json):
  * valid JSON, a uid, a title, and a `datasource` template variable (type datasource, query
    prometheus); every query variable uses ${datasource};
  * every panel, including panels nested in rows, has a unique id and a non-empty title; every
    non-row panel also has a non-empty description, a unit (fieldConfig.defaults.unit), the
    datasource ${datasource} (or $datasource), at least one target, and no target with an empty
    `expr`;
  * every rate( / irate( / increase( uses $__rate_interval as its range, so panels stay correct
    whatever the scrape interval and zoom level.

Rule-file rules (every dashboards/rules/*.yml): every rule has a non-empty expr; every alert has
`for:`, labels.severity (critical|warning|info) and annotations summary, description and runbook,
the runbook being a relative doc path such as docs/operations.md#enclave-down.

YAML is read with a small built-in parser for the subset Prometheus rule files use (block
mappings and sequences, plain and quoted scalars, `|` and `>` block scalars); `promtool check
rules` (CTest dashboards.promtool_check) is the authority on the files being valid.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

DASHBOARDS_DIR = Path(__file__).resolve().parent
REPO_ROOT = DASHBOARDS_DIR.parent

DATASOURCE_REFS = {"${datasource}", "$datasource"}
RATE_INTERVAL_REFS = {"$__rate_interval", "${__rate_interval}"}
RANGE_FUNC_RE = re.compile(r"(?<![A-Za-z0-9_:])(rate|irate|increase)\s*\(")
SEVERITIES = {"critical", "warning", "info"}
RUNBOOK_RE = re.compile(r"^(?!/)(?!\w+://)[\w./-]+\.md#[\w-]+$")
RECORD_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]*$")


def display_path(path):
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# PromQL helpers


def mask_promql(expr):
    """Return expr with the contents of string literals and comments replaced by 'x'.

    Offsets are preserved, so parentheses and brackets found in the result are real syntax and
    not part of a label-matcher regex such as path=~"/(a|b)[0-9]".
    """
    out = list(expr)
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c in "\"'`":
            quote = c
            i += 1
            while i < n and expr[i] != quote:
                if expr[i] == "\\" and quote != "`" and i + 1 < n:
                    out[i] = "x"
                    i += 1
                out[i] = "x"
                i += 1
            i += 1  # closing quote (kept)
        elif c == "#":
            while i < n and expr[i] != "\n":
                out[i] = "x"
                i += 1
        else:
            i += 1
    return "".join(out)


def matching_close(masked, open_index):
    """Index of the ')' matching the '(' at open_index, or None if unbalanced."""
    depth = 0
    for j in range(open_index, len(masked)):
        if masked[j] == "(":
            depth += 1
        elif masked[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    return None


def rate_interval_problems(expr):
    """Problems with the range of every rate( / irate( / increase( in expr."""
    problems = []
    masked = mask_promql(expr)
    for m in RANGE_FUNC_RE.finditer(masked):
        func = m.group(1)
        open_index = m.end() - 1
        close = matching_close(masked, open_index)
        if close is None:
            problems.append(f"unbalanced parentheses after {func}(")
            continue
        ranges = re.findall(r"\[([^\]]*)\]", masked[open_index + 1:close])
        if not ranges:
            problems.append(f"{func}() has no range selector")
        for r in ranges:
            if r.strip() not in RATE_INTERVAL_REFS:
                problems.append(f"{func}() uses range [{r}] instead of [$__rate_interval]")
    return problems


# --------------------------------------------------------------------------------------------
# Dashboards


def iter_panels(panels):
    """Every panel, rows first and then the panels a collapsed row holds."""
    for panel in panels or []:
        if not isinstance(panel, dict):
            continue
        yield panel
        if panel.get("type") == "row":
            yield from iter_panels(panel.get("panels"))


def datasource_ref(ds):
    if isinstance(ds, dict):
        return ds.get("uid")
    return ds


def load_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError) as e:
        return None, f"cannot read: {e}"
    except json.JSONDecodeError as e:
        return None, f"invalid JSON: {e}"


def variable_query(var):
    q = var.get("query")
    if isinstance(q, dict):
        q = q.get("query")
    return q if isinstance(q, str) else ""


def lint_dashboard(path):
    name = display_path(path)
    dash, err = load_json(path)
    if err:
        return [f"{name}: {err}"]
    problems = []

    def dash_problem(msg):
        problems.append(f"{name}: {msg}")

    if not isinstance(dash, dict):
        return [f"{name}: top level is not a JSON object"]
    for key in ("uid", "title"):
        if not isinstance(dash.get(key), str) or not dash.get(key).strip():
            dash_problem(f"dashboard has no {key}")
    if not isinstance(dash.get("schemaVersion"), int):
        dash_problem("dashboard has no integer schemaVersion")

    variables = (dash.get("templating") or {}).get("list") or []
    ds_vars = [v for v in variables if isinstance(v, dict) and v.get("name") == "datasource"]
    if not ds_vars:
        dash_problem("no `datasource` template variable")
    else:
        v = ds_vars[0]
        if v.get("type") != "datasource" or v.get("query") != "prometheus":
            dash_problem("template variable `datasource` must have type datasource and query prometheus")
    for v in variables:
        if not isinstance(v, dict) or v.get("type") != "query":
            continue
        vname = v.get("name", "?")
        if datasource_ref(v.get("datasource")) not in DATASOURCE_REFS:
            dash_problem(f"template variable `{vname}`: datasource is {v.get('datasource')!r}, want ${{datasource}}")
        q = variable_query(v)
        if not q.strip():
            dash_problem(f"template variable `{vname}`: empty query")
        for p in rate_interval_problems(q):
            dash_problem(f"template variable `{vname}`: {p}")

    seen_ids = {}
    for panel in iter_panels(dash.get("panels")):
        title = panel.get("title")
        label = f'panel "{title}"' if isinstance(title, str) and title.strip() else f"panel id {panel.get('id')!r}"

        def panel_problem(msg):
            problems.append(f"{name}: {label}: {msg}")

        if not isinstance(title, str) or not title.strip():
            panel_problem("empty or missing title")
        pid = panel.get("id")
        if not isinstance(pid, int):
            panel_problem("missing integer id")
        elif pid in seen_ids:
            panel_problem(f"duplicate panel id {pid} (also used by {seen_ids[pid]})")
        else:
            seen_ids[pid] = label
        if panel.get("type") == "row":
            continue

        desc = panel.get("description")
        if not isinstance(desc, str) or not desc.strip():
            panel_problem("empty or missing description")
        unit = ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("unit")
        if not isinstance(unit, str) or not unit.strip():
            panel_problem("no unit (fieldConfig.defaults.unit)")
        if datasource_ref(panel.get("datasource")) not in DATASOURCE_REFS:
            panel_problem(f"datasource is {panel.get('datasource')!r}, want ${{datasource}}")

        targets = [t for t in (panel.get("targets") or []) if isinstance(t, dict)]
        with_expr = [t for t in targets if isinstance(t.get("expr"), str) and t["expr"].strip()]
        if not with_expr:
            panel_problem("no target with a non-empty expr")
        for t in targets:
            ref = t.get("refId", "?")
            if not (isinstance(t.get("expr"), str) and t["expr"].strip()):
                if targets and with_expr:
                    panel_problem(f"target {ref}: empty expr")
                continue
            if "datasource" in t and datasource_ref(t["datasource"]) not in DATASOURCE_REFS:
                panel_problem(f"target {ref}: datasource is {t['datasource']!r}, want ${{datasource}}")
            for p in rate_interval_problems(t["expr"]):
                panel_problem(f"target {ref}: {p}")
    if not seen_ids:
        dash_problem("dashboard has no panels")
    return problems


def dashboard_queries(path):
    name = display_path(path)
    dash, err = load_json(path)
    if err:
        raise SystemExit(f"{name}: {err}")
    for v in (dash.get("templating") or {}).get("list") or []:
        if isinstance(v, dict) and v.get("type") == "query" and variable_query(v).strip():
            yield {"source": f"{name}:${v.get('name')}", "expr": variable_query(v), "kind": "variable",
                   "name": v.get("name")}
    for panel in iter_panels(dash.get("panels")):
        if panel.get("type") == "row":
            continue
        for t in panel.get("targets") or []:
            if isinstance(t, dict) and isinstance(t.get("expr"), str) and t["expr"].strip():
                yield {"source": f"{name}:{panel.get('title')}", "expr": t["expr"], "kind": "panel",
                       "refId": t.get("refId", "")}


# --------------------------------------------------------------------------------------------
# A small YAML reader for the subset Prometheus rule files use.


class YamlError(Exception):
    pass


class MiniYaml:
    BLOCK_SCALAR_RE = re.compile(r"^([|>])([+-]?)\s*(#.*)?$")
    KEY_RE = re.compile(r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"\-?:][^:#]*?|-[^\s:#][^:#]*?)\s*:(?:\s+(.*))?$""")

    def __init__(self, text, name):
        self.lines = text.replace("\t", "    ").split("\n")
        self.name = name

    def error(self, i, msg):
        raise YamlError(f"{self.name}:{i + 1}: {msg}")

    def skip(self, i):
        while i < len(self.lines):
            s = self.lines[i].strip()
            if s and not s.startswith("#") and s != "---":
                break
            i += 1
        return i

    @staticmethod
    def indent_of(line):
        return len(line) - len(line.lstrip(" "))

    @staticmethod
    def is_seq_item(content):
        return content == "-" or content.startswith("- ")

    def parse(self):
        i = self.skip(0)
        if i >= len(self.lines):
            return None
        value, i = self.node(i, self.indent_of(self.lines[i]))
        i = self.skip(i)
        if i < len(self.lines):
            self.error(i, "unexpected content")
        return value

    def node(self, i, indent):
        if self.is_seq_item(self.lines[i][indent:]):
            return self.seq(i, indent)
        return self.mapping(i, indent)

    def seq(self, i, indent):
        out = []
        while True:
            i = self.skip(i)
            if i >= len(self.lines):
                break
            line = self.lines[i]
            ind = self.indent_of(line)
            if ind < indent or not self.is_seq_item(line[ind:]):
                break
            if ind > indent:
                self.error(i, "bad indentation in sequence")
            rest = line[ind + 1:]
            if not rest.strip() or rest.strip().startswith("#"):
                j = self.skip(i + 1)
                if j < len(self.lines) and self.indent_of(self.lines[j]) > indent:
                    value, i = self.node(j, self.indent_of(self.lines[j]))
                else:
                    value, i = None, i + 1
            else:
                sub = ind + 1 + self.indent_of(rest)
                # Re-read the item's first line as if the dash were a space.
                self.lines[i] = " " * sub + rest.lstrip(" ")
                if self.KEY_RE.match(self.lines[i][sub:]) or self.is_seq_item(self.lines[i][sub:]):
                    value, i = self.node(i, sub)
                else:
                    value, i = self.scalar_value(i, self.lines[i][sub:], indent)
            out.append(value)
        return out, i

    def mapping(self, i, indent):
        out = {}
        while True:
            i = self.skip(i)
            if i >= len(self.lines):
                break
            line = self.lines[i]
            ind = self.indent_of(line)
            if ind < indent or (ind == indent and self.is_seq_item(line[ind:])):
                break
            if ind > indent:
                self.error(i, "bad indentation in mapping")
            m = self.KEY_RE.match(line[ind:])
            if not m:
                self.error(i, f"expected `key: value`, got {line.strip()!r}")
            key = self.unquote(m.group(1), i)
            rest = (m.group(2) or "").strip()
            if key in out:
                self.error(i, f"duplicate key {key!r}")
            if not rest or rest.startswith("#"):
                j = self.skip(i + 1)
                if j < len(self.lines) and (self.indent_of(self.lines[j]) > indent or (
                        self.indent_of(self.lines[j]) == indent and self.is_seq_item(self.lines[j][indent:]))):
                    out[key], i = self.node(j, self.indent_of(self.lines[j]))
                else:
                    out[key], i = None, i + 1
            else:
                out[key], i = self.scalar_value(i, rest, indent)
        return out, i

    def scalar_value(self, i, rest, parent_indent):
        """Parse the scalar starting on line i (text `rest`); returns (value, next line)."""
        m = self.BLOCK_SCALAR_RE.match(rest)
        if m:
            return self.block_scalar(i + 1, parent_indent, m.group(1), m.group(2))
        if rest[0] in "\"'":
            return self.unquote(self.strip_comment(rest), i), i + 1
        if rest in ("[]", "{}"):
            return ([] if rest == "[]" else {}), i + 1
        if rest[0] in "[{&*!|>%@`":
            self.error(i, f"unsupported YAML syntax {rest[:20]!r}")
        # Plain scalar, possibly continued on more-indented lines (folded with spaces).
        parts = [self.strip_comment(rest)]
        i += 1
        while i < len(self.lines):
            nxt = self.lines[i]
            if not nxt.strip():
                j = self.skip(i)
                if j < len(self.lines) and self.indent_of(self.lines[j]) > parent_indent and not nxt.strip().startswith("#"):
                    parts.append("\n")
                    i += 1
                    continue
                break
            if self.indent_of(nxt) <= parent_indent or nxt.strip().startswith("#"):
                break
            parts.append(self.strip_comment(nxt.strip()))
            i += 1
        text = ""
        for p in parts:
            text += p if p == "\n" or not text or text.endswith("\n") else " " + p
        return text.strip(), i

    def block_scalar(self, i, parent_indent, style, chomp):
        raw = []
        block_indent = None
        while i < len(self.lines):
            line = self.lines[i]
            if not line.strip():
                raw.append("")
                i += 1
                continue
            ind = self.indent_of(line)
            if block_indent is None:
                if ind <= parent_indent:
                    break
                block_indent = ind
            if ind < block_indent:
                break
            raw.append(line[block_indent:])
            i += 1
        # Trailing blank lines belong to the chomping, not the content.
        while raw and raw[-1] == "":
            raw.pop()
        if style == "|":
            text = "\n".join(raw)
        else:
            text = ""
            for line in raw:
                if line == "":
                    text += "\n"
                elif not text or text.endswith("\n"):
                    text += line
                else:
                    text += " " + line
        if chomp != "-" and text:
            text += "\n"
        return text, i

    @staticmethod
    def strip_comment(s):
        if s and s[0] in "\"'":
            return s.strip()
        m = re.search(r"\s#", s)
        return (s[:m.start()] if m else s).strip()

    def unquote(self, s, i):
        s = s.strip()
        if s.startswith('"'):
            if not s.endswith('"') or len(s) < 2:
                self.error(i, f"unterminated string {s!r}")
            try:
                return json.loads(s)
            except json.JSONDecodeError:
                self.error(i, f"unsupported escape in {s!r}")
        if s.startswith("'"):
            if not s.endswith("'") or len(s) < 2:
                self.error(i, f"unterminated string {s!r}")
            return s[1:-1].replace("''", "'")
        return s


def load_rules(path):
    """(groups, error) for a Prometheus rule file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return None, f"cannot read: {e}"
    try:
        doc = MiniYaml(text, display_path(path)).parse()
    except YamlError as e:
        return None, f"cannot parse: {e}"
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        return None, "no top-level `groups:` list"
    return doc["groups"], None


def iter_rules(groups):
    for group in groups:
        if not isinstance(group, dict):
            continue
        for rule in group.get("rules") or []:
            if isinstance(rule, dict):
                yield group.get("name"), rule


def rule_name(rule):
    return rule.get("alert") or rule.get("record") or "?"


def lint_rules(path):
    name = display_path(path)
    groups, err = load_rules(path)
    if err:
        return [f"{name}: {err}"]
    problems = []
    alerts = set()
    for gi, group in enumerate(groups):
        if not isinstance(group, dict) or not group.get("name"):
            problems.append(f"{name}: group #{gi + 1} has no name")
        elif not isinstance(group.get("rules"), list) or not group["rules"]:
            problems.append(f"{name}: group {group['name']!r} has no rules")
    for _, rule in iter_rules(groups):
        rname = rule_name(rule)

        def rule_problem(msg):
            problems.append(f"{name}: rule {rname}: {msg}")

        if ("alert" in rule) == ("record" in rule):
            rule_problem("needs exactly one of `alert` and `record`")
        expr = rule.get("expr")
        if not isinstance(expr, str) or not expr.strip():
            rule_problem("empty or missing expr")
        if "record" in rule:
            if not RECORD_NAME_RE.match(str(rule["record"])):
                rule_problem("recording rule names follow level:metric:operations")
            continue
        if rname in alerts:
            rule_problem("duplicate alert name")
        alerts.add(rname)
        if not rule.get("for"):
            rule_problem("no `for:`")
        severity = (rule.get("labels") or {}).get("severity")
        if severity not in SEVERITIES:
            rule_problem(f"labels.severity is {severity!r}, want one of {sorted(SEVERITIES)}")
        annotations = rule.get("annotations") or {}
        for key in ("summary", "description", "runbook"):
            v = annotations.get(key)
            if not isinstance(v, str) or not v.strip():
                rule_problem(f"no annotations.{key}")
        runbook = annotations.get("runbook")
        if isinstance(runbook, str) and runbook.strip() and not RUNBOOK_RE.match(runbook.strip()):
            rule_problem(f"annotations.runbook {runbook!r} is not a relative doc path like docs/operations.md#enclave-down")
    return problems


def rules_queries(path):
    name = display_path(path)
    groups, err = load_rules(path)
    if err:
        raise SystemExit(f"{name}: {err}")
    for group_name, rule in iter_rules(groups):
        kind = "alert" if "alert" in rule else "record"
        yield {"source": f"{name}:{rule_name(rule)}", "expr": str(rule.get("expr", "")).strip(),
               "kind": kind, "group": group_name, "name": rule_name(rule)}


# --------------------------------------------------------------------------------------------
# PromQL syntax of dashboard queries, checked by promtool


GRAFANA_VARS = {
    "__rate_interval": "1m", "__interval": "1m", "__range": "1h", "__range_s": "3600",
    "__range_ms": "3600000", "__interval_ms": "60000", "datasource": "prometheus",
}
VAR_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
LABEL_VALUES_RE = re.compile(r"^\s*label_values\(\s*(?:(.*),\s*)?(\w+)\s*\)\s*$", re.S)


def as_promql(query):
    """A dashboard query as plain PromQL: Grafana variables substituted (user variables by the
    regex ".*"), label_values(m, l) as count by (l) (m)."""
    expr = VAR_RE.sub(lambda m: GRAFANA_VARS.get(m.group(1) or m.group(2) or m.group(3), ".*"), query["expr"])
    if query["kind"] == "variable":
        m = LABEL_VALUES_RE.match(expr)
        if m:
            expr = f"count by ({m.group(2)}) ({m.group(1) or 'up'})"
    return expr


def promtool_check(promtool, queries):
    """Problems promtool reports for queries, each parsed as the expr of a recording rule."""
    def check(batch):
        doc = {"groups": [{"name": "lint", "rules": [{"record": f"lint:query_{i}", "expr": as_promql(q)}
                                                     for i, q in enumerate(batch)]}]}
        with tempfile.TemporaryDirectory() as d:
            f = Path(d) / "queries.rules.json.yml"
            f.write_text(json.dumps(doc, indent=1), encoding="utf-8")  # JSON is YAML
            try:
                r = subprocess.run([promtool, "check", "rules", str(f)], capture_output=True, text=True)
            except OSError as e:
                raise SystemExit(f"lint_dashboards: cannot run {promtool}: {e}") from None
        return r.returncode == 0, (r.stdout + r.stderr).strip()

    ok, _ = check(queries)
    if ok:
        return []
    problems = []
    for q in queries:  # find the culprits one by one
        ok, out = check([q])
        if not ok:
            msg = " ".join(line.strip() for line in out.splitlines() if "rule 0" in line or "parse error" in line)
            problems.append(f"{q['source']}: promtool rejects {as_promql(q)!r}: {msg or out}")
    return problems or ["promtool rejected the queries but none on its own: " + check(queries)[1]]


# --------------------------------------------------------------------------------------------


def default_files():
    files = sorted(DASHBOARDS_DIR.glob("*.json"))
    rules_dir = DASHBOARDS_DIR / "rules"
    files += sorted(list(rules_dir.glob("*.yml")) + list(rules_dir.glob("*.yaml")))
    return files


def is_rules_file(path):
    return Path(path).suffix in (".yml", ".yaml")


def lint_file(path, promtool=None):
    if is_rules_file(path):
        return lint_rules(path)
    problems = lint_dashboard(path)
    if promtool and load_json(path)[1] is None:
        queries = list(dashboard_queries(path))
        if queries:
            problems += promtool_check(promtool, queries)
    return problems


def fixture_expectations(path):
    """(must-report, must-not-report) problem substrings a bad fixture declares."""
    if is_rules_file(path):
        return [], []
    dash, err = load_json(path)
    if err or not isinstance(dash, dict):
        return [], []
    return ([str(e) for e in dash.get("x-lint-expect") or []],
            [str(e) for e in dash.get("x-lint-forbid") or []])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path, help="dashboards (*.json) and rule files (*.yml)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--list-queries", action="store_true", help="print every query as JSON lines")
    mode.add_argument("--expect-fail", action="store_true",
                      help="self-test: succeed only if every file is rejected with its x-lint-expect problems")
    ap.add_argument("--check-promql", metavar="PROMTOOL",
                    help="also parse every dashboard query with `PROMTOOL check rules`")
    args = ap.parse_args(argv)
    files = args.files or default_files()
    if not files:
        print("lint_dashboards: no files to lint", file=sys.stderr)
        return 1

    if args.list_queries:
        for f in files:
            queries = rules_queries(f) if is_rules_file(f) else dashboard_queries(f)
            for q in queries:
                print(json.dumps(q, sort_keys=True))
        return 0

    if args.expect_fail:
        failed = False
        for f in files:
            problems = lint_file(f, args.check_promql)
            for p in problems:
                print(f"rejected (as expected): {p}")
            if not problems:
                print(f"FAIL: {display_path(f)}: expected the lint to reject it, but it passed")
                failed = True
            must, must_not = fixture_expectations(f)
            for want in must:
                if not any(want in p for p in problems):
                    print(f"FAIL: {display_path(f)}: expected a problem containing {want!r}, none reported")
                    failed = True
            for unwanted in must_not:
                for p in problems:
                    if unwanted in p:
                        print(f"FAIL: {display_path(f)}: false positive: {p}")
                        failed = True
        print("lint self-test " + ("FAILED" if failed else f"passed: {len(files)} bad file(s) rejected"))
        return 1 if failed else 0

    problems = []
    for f in files:
        problems += lint_file(f, args.check_promql)
    for p in problems:
        print(p)
    if problems:
        print(f"lint_dashboards: {len(problems)} problem(s) in {len(files)} file(s)")
        return 1
    print(f"lint_dashboards: {len(files)} file(s) OK: " + ", ".join(display_path(f) for f in files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
