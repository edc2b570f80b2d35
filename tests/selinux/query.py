#!/usr/bin/python3
"""Answers a batch of policy queries in one process, for bin/keepalived-rs/tests/selinux_policy.rs.

The questions are those of `sesearch` (whose library, setools, reads the policy here),
answered in one process from one pass over the rules: sesearch reads every rule of the
policy again for each question, seconds each.

stdin:  {"policy": PATH,
         "queries": [{"ruletype": "allow" | "type_transition", "source": TYPE,
                      "target": TYPE | null, "class": [CLASS...], "perms": [PERM...],
                      "default": TYPE | null}, ...]}
        Source and target match directly or through an attribute (as sesearch does
        without -ds/-dt); a rule matches when it has any of the permissions.
stdout: {"booleans": {NAME: DEFAULT...},
         "results": [[{"rule": TEXT, "source": NAME, "target": NAME,
                       "condition": EXPR | null,
                       "enabled": BOOL,              # with every boolean at its default
                       "enabled_if": [BOOLEAN...]},  # booleans that alone turn it on
                      ...], ...]}
"""

import json
import sys

import setools


def describe(rule, defaults):
    try:
        cond = rule.conditional
    except setools.exception.RuleNotConditional:
        return {"condition": None, "enabled": True, "enabled_if": []}
    names = [b.name for b in cond.booleans]
    state = {n: defaults[n] for n in names}
    enabled = cond.evaluate(**state) == rule.conditional_block
    enabled_if = []
    if not enabled:
        for n in names:
            flipped = dict(state)
            flipped[n] = not state[n]
            if cond.evaluate(**flipped) == rule.conditional_block:
                enabled_if.append(n)
    return {"condition": str(cond), "enabled": enabled, "enabled_if": enabled_if}


class Index:
    """The policy's allow and type_transition rules whose source is one of `sources`,
    directly or through an attribute, read in one pass (a TERuleQuery per question reads
    every rule of the policy each time: seconds per question)."""

    def __init__(self, policy, sources):
        self.members = {}
        self.by_source = {s: [] for s in sources}
        for rule in policy.terules():
            if rule.ruletype.name not in ("allow", "type_transition"):
                continue
            for s in self.expand(rule.source) & sources:
                self.by_source[s].append(rule)

    def expand(self, t):
        """The type names of a type or attribute."""
        name = str(t)
        if name not in self.members:
            try:
                self.members[name] = {str(x) for x in t.expand()}
            except AttributeError:
                self.members[name] = {name}
        return self.members[name]

    def matches(self, rule, q):
        if rule.ruletype.name != q["ruletype"]:
            return False
        if q.get("target") and q["target"] not in self.expand(rule.target):
            return False
        if q.get("class") and str(rule.tclass) not in q["class"]:
            return False
        if q.get("perms") and not (set(q["perms"]) & {str(p) for p in rule.perms}):
            return False
        if q.get("default") and str(rule.default) != q["default"]:
            return False
        return True


def unknown_names(policy, queries):
    """Names in the queries that the policy does not have: a misspelt class, permission or
    type would otherwise make a "denied" check pass on nothing."""
    types = {str(t) for t in policy.types()} | {str(a) for a in policy.typeattributes()}
    classes = {}
    for c in policy.classes():
        perms = {str(p) for p in c.perms}
        try:
            perms |= {str(p) for p in c.common.perms}
        except setools.exception.NoCommon:
            pass
        classes[str(c)] = perms
    bad = []
    for q in queries:
        for key in ("source", "target", "default"):
            if q.get(key) and q[key] not in types:
                bad.append(f"unknown type {q[key]!r} in {q}")
        for c in q.get("class") or []:
            if c not in classes:
                bad.append(f"unknown class {c!r} in {q}")
        for p in q.get("perms") or []:
            if not any(p in classes.get(c, set()) for c in q.get("class") or classes):
                bad.append(f"unknown permission {p!r} in {q}")
    return bad


def main():
    request = json.load(sys.stdin)
    policy = setools.SELinuxPolicy(request["policy"])
    bad = unknown_names(policy, request["queries"])
    if bad:
        sys.exit("\n".join(bad))
    defaults = {b.name: bool(b.state) for b in policy.bools()}
    index = Index(policy, {q["source"] for q in request["queries"]})
    results = []
    for q in request["queries"]:
        rules = []
        for rule in index.by_source[q["source"]]:
            if not index.matches(rule, q):
                continue
            entry = {"rule": str(rule), "source": str(rule.source), "target": str(rule.target)}
            entry.update(describe(rule, defaults))
            rules.append(entry)
        results.append(rules)
    json.dump({"booleans": defaults, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
