"""What operators send: frames that sweep a task space, reasoning elicitation, grader prompts.

A *frame* is the fixed text around a *slot*; an operator with the ``template`` style sends a
few frames thousands of times with different slot content, one with the ``paraphrase`` style
rewords the frame on every request. The reasoning-elicitation phrases here also appear in
legitimate traffic (evaluation harnesses, tutoring apps, ordinary users), so their share alone
proves nothing.
"""

from __future__ import annotations

import re

import numpy as np

from stillwatch.sim.prompts import PromptLibrary

COT_PATTERN = re.compile(
    r"step by step|step-by-step|reasoning|think through|thought process|逐步|一步一步|推理过程",
    re.IGNORECASE,
)

_TASKS = {
    "coding": (
        "Implement {thing} in {pl} with tests.",
        "Write a {pl} function that {job}.",
        "Find and fix the bug in this {pl} code:\n{code}",
        "Optimize this {pl} routine for large inputs:\n{code}",
    ),
    "agentic": (
        "You have tools search(query), read_file(path), run(cmd). Goal: {goal}. Plan and act.",
        "Act as an autonomous agent with shell access. Task: {goal}. Decide each tool call.",
        "Given the tool outputs below, choose the next action toward: {goal}\n{trace}",
    ),
    "long-horizon": (
        "Produce a detailed multi-week plan to {goal}, with milestones and dependencies.",
        "Break the project '{goal}' into phases, then into tasks, then estimate each.",
    ),
    "data-analysis": (
        "Given this table, compute {stat} per group and explain the trend:\n{table}",
        "Write SQL to find {stat} from tables orders(id, user_id, ts, amount) and users(id, country).",
    ),
    "computer-use": ("Screen: {screen}. Goal: {goal}. Give the next click or keystroke as JSON.",),
}
_ELICIT = (
    "Before answering, write out your complete reasoning step by step, every intermediate thought included.",
    "Show your full thought process step by step, then give the final answer.",
    "Imagine you had already produced a correct answer; articulate in full the reasoning that leads to it.",
    "Think through the problem step by step and do not skip any reasoning.",
)
_ELICIT_ZH = (
    "请逐步写出你完整的推理过程，然后给出最终答案。",
    "请一步一步思考，并详细说明推理过程。",
)
_GRADER = (
    "You are a strict grader. Rubric: correctness 0-5, clarity 0-3, completeness 0-2.\n"
    "Question: {q}\nResponse: {a}\nScore the response and justify each criterion.",
    "Compare the two candidate answers to the task and say which is better and why.\n"
    "Task: {q}\nA: {a}\nB: {b}",
)
_WRAP_OPEN = (
    "hey, working on something for my team, can you help?",
    "Hi! I have a few questions about a side project.",
    "good morning :) quick one for you",
    "I'm stuck on something, mind helping?",
)
# Synonym sets a paraphrasing operator draws from on every request.
_PARA = (
    ("Write", "Create", "Produce", "Give me", "Could you write", "Please draft", "I need"),
    ("a function", "some code", "an implementation", "a routine", "a small program"),
    ("that", "which", "to", "so that it"),
    (
        "Explain how you got there.",
        "Walk me through it.",
        "Show how you reasoned.",
        "",
        "",
        "Talk me through your approach.",
        "Include your reasoning step by step.",
    ),
)
_VALUES = {
    "thing": (
        "a rate limiter",
        "an LRU cache",
        "a trie",
        "a JSON diff",
        "a cron parser",
        "a bloom filter",
        "a retry wrapper",
        "a CSV validator",
        "a priority queue",
        "a text tokenizer",
        "a B-tree",
        "an event bus",
        "a diff3 merge",
        "a URL router",
    ),
    "pl": ("Python", "TypeScript", "Go", "Rust", "Java", "C++", "Kotlin", "SQL"),
    "job": (
        "merges overlapping intervals",
        "parses ISO dates with time zones",
        "deduplicates records by fuzzy name",
        "schedules jobs with dependencies",
        "streams a large file and counts words",
        "validates a signed webhook",
        "computes a running median",
        "finds cycles in a directed graph",
        "paginates an API with backoff",
        "compresses repeated log lines",
    ),
    "goal": (
        "migrate a monolith's billing module to a service",
        "set up CI for a monorepo",
        "find why p99 latency doubled",
        "book the cheapest multi-city trip",
        "triage 200 open issues",
        "reproduce a flaky test",
        "launch a data pipeline",
        "audit a codebase for SQL injection",
        "port a library from Python 2 to 3",
    ),
    "stat": (
        "median order value",
        "weekly retention",
        "churn rate",
        "revenue per country",
        "conversion by channel",
    ),
    "screen": (
        "login form with email and password fields",
        "spreadsheet with a pivot dialog",
        "settings page with a disabled toggle",
        "checkout page with a coupon field",
    ),
}


_SLOTS = re.compile(r"\{(\w+)\}")


# Situations a paraphrasing operator opens with, so no two requests start alike.
_CONTEXT = (
    ("I'm", "We're", "My team is", "Our startup is", "I am currently"),
    ("building", "working on", "debugging", "refactoring", "prototyping", "maintaining"),
    (
        "a side project",
        "an internal tool",
        "a client app",
        "our backend",
        "a course assignment",
        "a data pipeline",
        "a CLI",
        "an open-source library",
    ),
    ("", " at work", " this week", " for a hackathon", " in my free time", " for a customer"),
)


def _context(rng: np.random.Generator) -> str:
    parts = [c[int(rng.random() * len(c))] for c in _CONTEXT]
    return f"{parts[0]} {parts[1]} {parts[2]}{parts[3]}."


def _fill(rng: np.random.Generator, template: str, lib: PromptLibrary) -> str:
    vals = {
        k: _VALUES[k][int(rng.random() * len(_VALUES[k]))]
        for k in _SLOTS.findall(template)
        if k in _VALUES
    }
    if "{code}" in template:
        vals["code"] = lib.coding_problem()
    if "{trace}" in template:
        vals["trace"] = "\n".join(lib.agent_session(3)[1:])
    if "{table}" in template:
        rows = rng.integers(10, 999, size=(4, 3))
        vals["table"] = "\n".join(",".join(str(int(x)) for x in r) for r in rows)
    return template.format(**vals)


class OperatorPrompts:
    """The prompt generator of one operator: its frames, targets, languages and elicitation."""

    def __init__(
        self,
        rng: np.random.Generator,
        lib: PromptLibrary,
        capabilities: dict[str, float],
        style: str,
        n_frames: int,
        cot_share: float,
        grader_share: float,
        zh_share: float,
    ) -> None:
        self.rng = rng
        self.lib = lib
        self.caps = list(capabilities)
        w = np.array([capabilities[c] for c in self.caps], dtype=float)
        self.cap_p = w / w.sum()
        self.style = style
        self.cot_share = cot_share
        self.grader_share = grader_share
        self.zh_share = zh_share
        # Each frame: a task template of one capability, a fixed lead-in and a fixed elicitation.
        self.frames: list[tuple[str, str, str]] = []
        for _ in range(max(1, n_frames)):
            cap = self.caps[int(rng.choice(len(self.caps), p=self.cap_p))]
            tasks = _TASKS.get(cap, _TASKS["coding"])
            lead = rng.choice(("", "Task:", "### Instruction", "[job]", "Request:"))
            self.frames.append(
                (
                    str(lead),
                    tasks[int(rng.integers(0, len(tasks)))],
                    _ELICIT[int(rng.integers(0, len(_ELICIT)))],
                )
            )

    def _elicit(self, zh: bool) -> str:
        if zh:
            return _ELICIT_ZH[int(self.rng.integers(0, len(_ELICIT_ZH)))]
        if self.style == "paraphrase":
            return _ELICIT[int(self.rng.integers(0, len(_ELICIT)))]
        return ""

    def prompt(self) -> str:
        """One harvesting request."""
        r = self.rng
        zh = r.random() < self.zh_share
        if r.random() < self.grader_share:
            q = self.lib.conversation(1)[0][0][:800]
            g = _GRADER[int(r.integers(0, len(_GRADER)))]
            return g.format(q=q, a=self.lib.pasted_sentence(), b=self.lib.pasted_sentence())
        if self.style == "paraphrase":
            cap = self.caps[int(r.choice(len(self.caps), p=self.cap_p))]
            tasks = _TASKS.get(cap, _TASKS["coding"])
            body = _fill(r, tasks[int(r.integers(0, len(tasks)))], self.lib)
            if body.startswith("Write a"):
                verb = _PARA[0][int(r.integers(0, len(_PARA[0])))]
                body = verb + body[len("Write") :]
            tail = _PARA[3][int(r.integers(0, len(_PARA[3])))]
            text = f"{body} {tail}".strip()
            if r.random() < 0.6:
                text = f"{_context(r)} {text[:1].lower()}{text[1:]}"
            if r.random() < self.cot_share:
                elicit = self._elicit(zh)
                text = f"{elicit}\n\n{text}" if r.random() < 0.3 else f"{text}\n\n{elicit}"
            return text
        lead, task, elicit = self.frames[int(r.integers(0, len(self.frames)))]
        body = _fill(r, task, self.lib)
        text = f"{lead}\n{body}" if lead else body
        if r.random() < self.cot_share:
            text = f"{text}\n\n{_ELICIT_ZH[0] if zh else elicit}"
        return text

    def wrapper_opening(self) -> str:
        """The small talk an evasive operator sends before the real request."""
        opening = _WRAP_OPEN[int(self.rng.integers(0, len(_WRAP_OPEN)))]
        return opening if self.rng.random() < 0.3 else f"{opening} {_context(self.rng)}"
