"""``report.html``: how a class did, in one self-contained page (plots embedded as PNG).

It shows the score distribution per exercise, the tests that fail most with their most common
messages, and the slowest submissions. Statistics are gathered one student at a time.
"""

from __future__ import annotations

import base64
import heapq
import html
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field


@dataclass
class ClassStats:
    exercises: list
    scores: dict = field(default_factory=lambda: defaultdict(list))      # exercise -> [fraction]
    totals: list = field(default_factory=list)                           # total fractions
    failures: Counter = field(default_factory=Counter)                  # (exercise, test) -> count
    messages: dict = field(default_factory=lambda: defaultdict(Counter))  # (exercise, test) -> first lines
    slowest: list = field(default_factory=list)                          # heap of (seconds, student)
    students: int = 0
    max_score: float = 0.0

    def add(self, student: str, result) -> None:
        self.students += 1
        self.max_score = max(self.max_score, result.max_score)
        for ex, (score, max_score) in result.by_exercise().items():
            self.scores[ex].append(score / max_score if max_score else 0.0)
        self.totals.append(result.score / result.max_score if result.max_score else 0.0)
        failed = set()                    # a test's cases (its parameters) count once per student
        for t in result.tests:
            if t.status != "passed":
                key = (t.exercise, t.name.split(" (case ")[0])
                failed.add(key)
                self.messages[key][(t.output.splitlines() or [""])[0][:160]] += 1
        self.failures.update(failed)
        heapq.heappush(self.slowest, (result.seconds, student))
        if len(self.slowest) > 10:
            heapq.heappop(self.slowest)


def _plot(stats: ClassStats, titles: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    panels = ["total", *stats.exercises]
    cols = 4
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    bins = [i / 10 for i in range(11)]
    for ax, name in zip(axes.flat, panels):
        values = stats.totals if name == "total" else stats.scores.get(name, [])
        ax.hist([v * 100 for v in values], bins=[b * 100 for b in bins], color="#3b7dd8", edgecolor="white")
        ax.set_title("Total" if name == "total" else titles.get(name, name), fontsize=10)
        ax.set_xlabel("score (%)", fontsize=8)
        ax.set_ylabel("students", fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def report_html(stats: ClassStats, titles: dict) -> str:
    """The page, as text."""
    esc = html.escape
    rows = []
    for ex in stats.exercises:
        values = stats.scores.get(ex, [])
        mean = sum(values) / len(values) * 100 if values else 0
        full = sum(v == 1.0 for v in values)
        rows.append(f"<tr><td>{esc(titles.get(ex, ex))}</td><td>{mean:.1f}%</td><td>{full}</td>"
                    f"<td>{sum(v == 0 for v in values)}</td></tr>")
    failing = []
    for (ex, test), count in stats.failures.most_common(15):
        common = "<br>".join(f"{esc(m) or '(no message)'} <span class=n>×{n}</span>"
                             for m, n in stats.messages[(ex, test)].most_common(3))
        failing.append(f"<tr><td>{esc(ex)}</td><td>{esc(test)}</td><td>{count}</td><td>{common}</td></tr>")
    slow = "".join(f"<tr><td>{esc(s)}</td><td>{sec:.2f} s</td></tr>" for sec, s in sorted(stats.slowest, reverse=True))
    plot = _plot(stats, titles) if stats.students else ""
    image = f'<img class="plot" alt="score distribution per exercise" src="data:image/png;base64,{plot}">' \
        if plot else "<p>No students graded.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Class report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; font-size: 14px; }}
th {{ background: #f0f3f8; }} .n {{ color: #777; }} img.plot {{ max-width: 100%; }}
</style></head>
<body>
<h1>Class report</h1>
<p>{stats.students} students graded; maximum score {stats.max_score:g}.</p>
<h2>Score distribution</h2>
{image}
<table><tr><th>exercise</th><th>mean</th><th>full marks</th><th>zero</th></tr>{''.join(rows)}</table>
<h2>Tests that fail most</h2>
<table><tr><th>exercise</th><th>test</th><th>students failing</th><th>most common messages</th></tr>
{''.join(failing) or '<tr><td colspan=4>none</td></tr>'}</table>
<h2>Slowest submissions</h2>
<table><tr><th>student</th><th>grading time</th></tr>{slow}</table>
</body></html>
"""
