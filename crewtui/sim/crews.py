"""The four example crews and the flow the simulator serves, with the reference's timings
and outputs.

They are data, not code: each task (a flow's method) has an agent, a duration in reference
seconds, a few agent steps and a markdown output. Outputs are ``string.Template`` texts so a
run's inputs show up in what it produces (``$topic``), as they would in a real crew's answer;
inputs are echoed verbatim, which also gives clients untrusted text to render safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from string import Template
from types import MappingProxyType
from typing import Literal


def fill(text: str, inputs: Mapping[str, str]) -> str:
    """``text`` with the run's inputs substituted; unknown ``$names`` are left as they are."""
    return Template(text).safe_substitute(inputs)


@dataclass(frozen=True)
class SimStep:
    """One agent thought/action, sent as a step webhook and shown as ``last_step``."""

    thought: str
    tool: str
    tool_input: str
    result: str


@dataclass(frozen=True)
class SimTask:
    """One task of a crew; ``duration`` is in reference seconds (before speed and scale)."""

    task_id: str
    description: str
    expected_output: str
    agent: str
    duration: float
    output: str
    steps: tuple[SimStep, ...]

    def render(self, inputs: Mapping[str, str]) -> str:
        """The task's output for one run."""
        return fill(self.output, inputs)


@dataclass(frozen=True)
class SimPause:
    """Where a flow waits for a person (a crewai ``@human_feedback`` method): the method, the
    message it asks with, the outcomes it may route to, and what it returns when rejected."""

    method: str
    message: str
    emit: tuple[str, ...]
    rejected_output: str


@dataclass(frozen=True)
class SimCrew:
    """A deployment: a crew (its units are tasks) or a flow (its units are methods, its
    ``inputs`` are state fields, none of them required, and it may pause on its own)."""

    name: str
    inputs: tuple[str, ...]
    sample_inputs: Mapping[str, str]
    tasks: tuple[SimTask, ...]
    error: str
    fail_at: float  # reference seconds from kickoff, inside the first or second task
    pending: float = 0.5  # reference seconds spent queued before the first task
    kind: Literal["crew", "flow"] = "crew"
    pause: SimPause | None = None
    # A flow's state fields have defaults (a crewAI flow's state model): what a kickoff
    # leaves out reads as these, never as a raw ``$name`` in its outputs.
    state_defaults: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def is_flow(self) -> bool:
        return self.kind == "flow"

    @property
    def required_inputs(self) -> tuple[str, ...]:
        """What a kickoff must give: a crew's inputs; a flow's state fields are optional."""
        return () if self.is_flow else self.inputs


_TRAVEL_RESEARCH = """\
## 日本科技与文化目的地调研

**预算**：$budget　**时长**：$duration　**兴趣**：$interests　**年龄**：$age

### 重点城市

1. **东京**：秋叶原电器街、teamLab 无界美术馆、日本科学未来馆
2. **京都**：伏见稻荷大社、任天堂总部周边、传统町屋茶室
3. **大阪**：日本环球影城超级任天堂世界、道顿堀美食

### 交通建议

- 购买 7 日 JR Pass（约 50,000 日元），覆盖新干线东京—京都—大阪
- 市内使用 Suica 交通卡，可在便利店消费

> 提示：三月下旬至四月上旬为樱花季，酒店需提前预订。
"""

_TRAVEL_PLAN = """\
为期 7 天的日本科技文化主题综合旅行行程

## 行程总览

| 天数 | 城市 | 上午 | 下午 | 晚上 |
| --- | --- | --- | --- | --- |
| 第 1 天 | 东京 | 抵达成田机场 | 秋叶原电器街 | 新宿思出横丁 |
| 第 2 天 | 东京 | 日本科学未来馆 | teamLab 无界美术馆 | 台场夜景 |
| 第 3 天 | 东京 | 浅草寺 | 涩谷 Sky | 游戏主题酒吧 |
| 第 4 天 | 京都 | 新干线前往京都 | 伏见稻荷大社 | 祇园散步 |
| 第 5 天 | 京都 | 岚山竹林 | 京都铁道博物馆 | 町屋茶道体验 |
| 第 6 天 | 大阪 | 超级任天堂世界 | 环球影城 | 道顿堀美食 |
| 第 7 天 | 大阪 | 黑门市场 | 关西机场返程 | |

## 预算分配（$budget）

- 住宿：40%
- 交通（JR Pass + 市内）：25%
- 餐饮：20%
- 门票与体验：15%

## 出行清单

```text
护照 / 签证
JR Pass 兑换券
Suica 交通卡
随身 Wi-Fi 或 eSIM
```

祝您旅途愉快！
"""

TRAVEL = SimCrew(
    name="travel",
    inputs=("budget", "interests", "duration", "age"),
    sample_inputs=MappingProxyType(
        {"budget": "1000 USD", "interests": "games, tech, ai", "duration": "7 days", "age": "35"}
    ),
    tasks=(
        SimTask(
            task_id="research_task",
            description="调研符合旅行者兴趣（$interests）和预算（$budget）的目的地与景点。",
            expected_output="一份包含城市、景点和交通建议的调研报告。",
            agent="旅行研究员",
            duration=45.2,
            output=_TRAVEL_RESEARCH,
            steps=(
                SimStep(
                    thought="我需要先找到适合科技与游戏爱好者的日本城市。",
                    tool="search",
                    tool_input="日本 科技 游戏 旅游 景点",
                    result="找到 12 个相关结果：秋叶原、teamLab、超级任天堂世界……",
                ),
                SimStep(
                    thought="接下来确认交通方式和 JR Pass 价格。",
                    tool="search",
                    tool_input="JR Pass 7 日 价格 2026",
                    result="7 日普通车厢 JR Pass 约 50,000 日元。",
                ),
            ),
        ),
        SimTask(
            task_id="planning_task",
            description="根据调研结果为 $age 岁的旅行者制定 $duration 的详细行程。",
            expected_output="按天列出的完整行程表，附预算分配。",
            agent="行程规划师",
            duration=62.8,
            output=_TRAVEL_PLAN,
            steps=(
                SimStep(
                    thought="把调研中的城市按地理顺序排列，减少往返。",
                    tool="route_planner",
                    tool_input="东京 → 京都 → 大阪",
                    result="推荐路线：东京 3 晚，京都 2 晚，大阪 2 晚。",
                ),
                SimStep(
                    thought="按预算比例分配住宿、交通、餐饮和门票。",
                    tool="budget_calculator",
                    tool_input="$budget, 7 天",
                    result="住宿 40%，交通 25%，餐饮 20%，门票 15%。",
                ),
                SimStep(
                    thought="行程已完整，整理成表格输出。",
                    tool="formatter",
                    tool_input="markdown table",
                    result="表格已生成。",
                ),
            ),
        ),
    ),
    error="任务执行失败：外部服务的 API 密钥无效",
    fail_at=23.1,
)

_OUTREACH_PROFILE = """\
## Prospect profile: $name

**$title** at **$company** ($industry) · [LinkedIn]($linkedin_url)

### Background

- Eight years in $industry, the last three at $company
- Speaks regularly about platform reliability and developer experience
- Recently posted about consolidating vendor tooling after a cost review

### Company signals

| Signal | Source | Relevance |
| --- | --- | --- |
| Hiring 4 platform engineers | Careers page | High |
| Series C announced last quarter | Press release | Medium |
| Migrating to Kubernetes | Engineering blog | High |
"""

_OUTREACH_ANGLE = """\
## Messaging strategy

The strongest hook is **tooling consolidation**: $name has publicly asked for fewer,
better tools, and $our_product replaces two of the vendors $company lists on its blog.

### Talking points

1. Cost: one contract instead of three
2. Time to value: first dashboards in under a day
3. Proof: a $industry customer of similar size cut incident time by 38%

### Avoid

- Generic "quick call?" openers
- Mentioning the funding round first
"""

_OUTREACH_MESSAGE = """\
# Personalized outreach for $name

**Subject:** Fewer tools, faster incidents at $company

Hi $name,

I enjoyed your recent post on consolidating vendor tooling. As $title at $company,
you are probably weighing which tools earn their place as the platform team grows.

$our_product gives teams in $industry one place for what usually takes three tools,
and a customer of similar size cut their time to resolve incidents by 38%.

Would a 20-minute walkthrough next Tuesday or Wednesday be useful?

Best regards,
Alex

## Follow-up plan

| Day | Channel | Action |
| --- | --- | --- |
| 0 | Email | Send the message above |
| 4 | Email | Share the $industry case study if there is no reply |
| 7 | LinkedIn | Connect with a note referencing the post |
"""

OUTREACH = SimCrew(
    name="outreach",
    inputs=("name", "title", "company", "industry", "our_product", "linkedin_url"),
    sample_inputs=MappingProxyType(
        {
            "name": "Dana Whitfield",
            "title": "VP of Engineering",
            "company": "Northwind Analytics",
            "industry": "fintech",
            "our_product": "Beacon Observability",
            "linkedin_url": "https://www.linkedin.com/in/dana-whitfield-example",
        }
    ),
    tasks=(
        SimTask(
            task_id="profile_research_task",
            description="Research $name ($title at $company) and the company's recent signals.",
            expected_output="A concise profile with background and company signals.",
            agent="Prospect Researcher",
            duration=31.4,
            output=_OUTREACH_PROFILE,
            steps=(
                SimStep(
                    thought="Start with the public LinkedIn profile.",
                    tool="scrape_website",
                    tool_input="$linkedin_url",
                    result="Profile loaded: 8 years in $industry, 3 at $company.",
                ),
                SimStep(
                    thought="Look for hiring and funding signals at the company.",
                    tool="search",
                    tool_input="$company hiring platform engineers",
                    result="4 open platform roles; Series C last quarter.",
                ),
            ),
        ),
        SimTask(
            task_id="strategy_task",
            description="Choose the messaging angle that links $our_product to $name's goals.",
            expected_output="Talking points and what to avoid.",
            agent="Sales Strategist",
            duration=24.7,
            output=_OUTREACH_ANGLE,
            steps=(
                SimStep(
                    thought="Match the prospect's public priorities to product strengths.",
                    tool="knowledge_base",
                    tool_input="$our_product case studies $industry",
                    result="Case study: 38% faster incident resolution.",
                ),
            ),
        ),
        SimTask(
            task_id="message_drafting_task",
            description="Write a short, personal first email to $name.",
            expected_output="An email with subject line and a follow-up plan.",
            agent="Outreach Copywriter",
            duration=38.9,
            output=_OUTREACH_MESSAGE,
            steps=(
                SimStep(
                    thought="Open with the prospect's own post, not with our product.",
                    tool="draft",
                    tool_input="subject + 4 short paragraphs",
                    result="Draft written, 112 words.",
                ),
                SimStep(
                    thought="Check tone and length against the style guide.",
                    tool="style_check",
                    tool_input="draft v1",
                    result="Passes: friendly, under 150 words, one call to action.",
                ),
            ),
        ),
    ),
    error="Task execution failed: LinkedIn profile could not be fetched (HTTP 999)",
    fail_at=44.0,
)

_CONTENT_OUTLINE = """\
## Outline: $topic

Audience: **$audience**

1. Why $topic matters now
2. The three ideas you need
   - The mental model
   - A worked example
   - Common mistakes
3. Getting started in an afternoon
4. Further reading
"""

_CONTENT_DRAFT = """\
# $topic

For $audience, $topic can look like a wall of jargon. It is not: three ideas carry most of
the weight, and you can try all of them in an afternoon.

## The mental model

Think of it as a pipeline: inputs go in, each stage does one job, results come out.

## A worked example

```python
def pipeline(items: list[str]) -> list[str]:
    cleaned = [item.strip() for item in items]
    return [item for item in cleaned if item]
```

## Common mistakes

- Doing everything in one stage
- Skipping the measurement step
"""

_CONTENT_FINAL = """\
# $topic: a practical guide for $audience

For $audience, **$topic** can look like a wall of jargon. It is not: three ideas carry
most of the weight, and you can try every one of them in an afternoon.

## 1. The mental model

Think of it as a pipeline. Inputs go in, each stage does exactly one job, and results
come out the other end. When something breaks, you know which stage to look at.

## 2. A worked example

```python
def pipeline(items: list[str]) -> list[str]:
    \"\"\"Clean a list of raw strings: trim them and drop the empty ones.\"\"\"
    cleaned = [item.strip() for item in items]
    return [item for item in cleaned if item]
```

## 3. Common mistakes

| Mistake | Why it hurts | Fix |
| --- | --- | --- |
| One giant stage | Impossible to debug | Split by responsibility |
| No measurement | You cannot tell if it helped | Track one number first |
| Copying defaults | They fit someone else | Start small, then tune |

## Getting started

1. Pick one small problem you already have.
2. Sketch the stages on paper.
3. Build the first stage and measure it.

*Word count: 1,240 · Reading time: 6 minutes*
"""

CONTENT = SimCrew(
    name="content",
    inputs=("topic", "audience"),
    sample_inputs=MappingProxyType(
        {"topic": "Getting started with data pipelines", "audience": "junior developers"}
    ),
    tasks=(
        SimTask(
            task_id="outline_task",
            description="Outline an article on $topic for $audience.",
            expected_output="A numbered outline with sub-points.",
            agent="Content Strategist",
            duration=18.6,
            output=_CONTENT_OUTLINE,
            steps=(
                SimStep(
                    thought="Find what $audience already search for about $topic.",
                    tool="search",
                    tool_input="$topic beginner questions",
                    result="Top questions: what is it, where to start, common mistakes.",
                ),
                SimStep(
                    thought="Order the sections from why to how.",
                    tool="outline",
                    tool_input="4 sections",
                    result="Outline ready.",
                ),
            ),
        ),
        SimTask(
            task_id="draft_task",
            description="Write the first draft following the outline.",
            expected_output="A full draft in markdown.",
            agent="Senior Writer",
            duration=52.3,
            output=_CONTENT_DRAFT,
            steps=(
                SimStep(
                    thought="Write the introduction in plain words.",
                    tool="write",
                    tool_input="section 1",
                    result="180 words.",
                ),
                SimStep(
                    thought="Add a short code example the audience can run.",
                    tool="code_interpreter",
                    tool_input="pipeline example",
                    result="Example runs and returns ['a', 'b'].",
                ),
            ),
        ),
        SimTask(
            task_id="edit_task",
            description="Edit the draft for clarity, accuracy and tone.",
            expected_output="The final article, ready to publish.",
            agent="Editor",
            duration=27.9,
            output=_CONTENT_FINAL,
            steps=(
                SimStep(
                    thought="Tighten sentences and add a comparison table.",
                    tool="edit",
                    tool_input="draft v1",
                    result="Cut 14% of words; table added.",
                ),
            ),
        ),
    ),
    error="Task execution failed: Rate limit reached for model gpt-4o (429)",
    fail_at=35.0,
)

_RESEARCH_SEARCH = """\
## Sources on $topic

1. *Survey paper*, 2025: broad overview, 212 citations
2. *Industry report*, Q3 2026: adoption figures from 400 companies
3. *Benchmark study*, 2026: reproducible measurements with public code
4. *Practitioner blog series*: lessons from two production rollouts

Discarded: 9 sources (opinion pieces without data, or older than 2022).
"""

_RESEARCH_SYNTHESIS = """\
## Key findings

- Adoption of $topic doubled between 2024 and 2026, led by mid-size companies.
- The benchmark study shows gains only above a clear size threshold.
- Both production rollouts name the same obstacle: missing in-house skills.

### Where the sources disagree

The industry report is more optimistic than the benchmark study about cost savings;
the report's figures are self-reported.
"""

_RESEARCH_REPORT = """\
# Research report: $topic

## Summary

Adoption of **$topic** doubled between 2024 and 2026. Measured benefits are real but
appear only above a size threshold, and the main obstacle is skills, not technology.

## Findings

| Finding | Evidence | Confidence |
| --- | --- | --- |
| Adoption doubled since 2024 | Industry report (400 companies) | High |
| Gains above a size threshold | Benchmark study, public code | Medium |
| Skills are the bottleneck | Two production rollouts | Medium |

## Recommendations

1. Start with a pilot where the workload is large enough to benefit.
2. Budget for training before tooling.
3. Measure against the benchmark's published baseline:

```bash
git clone https://example.org/benchmark && make reproduce
```

## Sources

- Survey paper (2025)
- Industry report (Q3 2026)
- Benchmark study (2026)
- Practitioner blog series
"""

RESEARCH = SimCrew(
    name="research",
    inputs=("topic",),
    sample_inputs=MappingProxyType({"topic": "retrieval-augmented generation"}),
    tasks=(
        SimTask(
            task_id="search_task",
            description="Find recent, credible sources about $topic.",
            expected_output="A ranked list of sources with one-line notes.",
            agent="Research Librarian",
            duration=28.3,
            output=_RESEARCH_SEARCH,
            steps=(
                SimStep(
                    thought="Search academic and industry sources separately.",
                    tool="search",
                    tool_input="$topic survey 2025",
                    result="23 results; 4 kept after reading abstracts.",
                ),
                SimStep(
                    thought="Check each source's date and whether it has data.",
                    tool="scrape_website",
                    tool_input="industry report Q3 2026",
                    result="Report covers 400 companies.",
                ),
            ),
        ),
        SimTask(
            task_id="synthesis_task",
            description="Compare the sources and extract the findings they support.",
            expected_output="Key findings and disagreements between sources.",
            agent="Research Analyst",
            duration=41.7,
            output=_RESEARCH_SYNTHESIS,
            steps=(
                SimStep(
                    thought="Line up each source's claims side by side.",
                    tool="compare",
                    tool_input="4 sources",
                    result="3 findings supported by at least two sources.",
                ),
            ),
        ),
        SimTask(
            task_id="report_task",
            description="Write a short report on $topic with recommendations.",
            expected_output="A markdown report with summary, findings table and sources.",
            agent="Report Writer",
            duration=33.5,
            output=_RESEARCH_REPORT,
            steps=(
                SimStep(
                    thought="Lead with the answer, then the evidence.",
                    tool="write",
                    tool_input="report skeleton",
                    result="Report drafted.",
                ),
                SimStep(
                    thought="Add a reproducible command for the benchmark.",
                    tool="code_interpreter",
                    tool_input="make reproduce",
                    result="Command verified.",
                ),
            ),
        ),
    ),
    error="Task execution failed: Search API quota exceeded",
    fail_at=12.4,
)

_ONBOARDING_PROFILE = """\
## Customer profile

| Field | Value |
| --- | --- |
| Name | $name |
| Email | $email |
| Company | $company |
| Plan | $plan |

Workspace slug reserved: `$company` (lower-cased, spaces as dashes).
"""

_ONBOARDING_IDENTITY = """\
## Identity check: passed

- Email domain of $email matches the company's website
- No match on the sanctions and fraud lists (checked 3 sources)
- Risk score **12 / 100** (low): no manual review needed for the $plan plan
"""

_ONBOARDING_APPROVAL = """\
## Account approved

The $plan account for $company was approved by a reviewer; limits are the plan's defaults.
"""

_ONBOARDING_WELCOME = """\
# Welcome to Beacon, $name!

Your **$plan** workspace for $company is ready.

1. Invite your team from *Settings → Members*
2. Connect your first data source (about five minutes)
3. Book a 30-minute onboarding call: <https://example.org/onboarding>

The welcome email went to $email.
"""

ONBOARDING = SimCrew(
    name="onboarding",
    kind="flow",
    # Its state fields (``id`` is the execution's own, given only to restart one).
    inputs=("name", "email", "company", "plan"),
    state_defaults=MappingProxyType(
        {
            "name": "new customer",
            "email": "the address on file",
            "company": "your team",
            "plan": "Starter",
        }
    ),
    sample_inputs=MappingProxyType(
        {
            "name": "Mei Tanaka",
            "email": "mei.tanaka@example.org",
            "company": "Kaizen Robotics",
            "plan": "Team",
        }
    ),
    tasks=(
        SimTask(
            task_id="collect_profile",
            description="Collect and normalize the sign-up details of $name at $company.",
            expected_output="A customer profile table.",
            agent="Onboarding Assistant",
            duration=6.2,
            output=_ONBOARDING_PROFILE,
            steps=(
                SimStep(
                    thought="Normalize the company name into a workspace slug.",
                    tool="slugify",
                    tool_input="$company",
                    result="Slug reserved.",
                ),
            ),
        ),
        SimTask(
            task_id="verify_identity",
            description="Verify that $email belongs to $company and screen it for fraud.",
            expected_output="A pass/fail verdict with a risk score.",
            agent="Compliance Analyst",
            duration=21.4,
            output=_ONBOARDING_IDENTITY,
            steps=(
                SimStep(
                    thought="Check the email domain against the company's website.",
                    tool="dns_lookup",
                    tool_input="$email",
                    result="MX and website domains match.",
                ),
                SimStep(
                    thought="Screen the name against sanctions and fraud lists.",
                    tool="screening_api",
                    tool_input="$name, $company",
                    result="No match in 3 lists.",
                ),
            ),
        ),
        SimTask(
            task_id="approve_account",
            description="Ask a reviewer to approve the $plan account for $company.",
            expected_output="The reviewer's decision.",
            agent="Account Reviewer",
            duration=4.8,
            output=_ONBOARDING_APPROVAL,
            steps=(
                SimStep(
                    thought="Summarize the profile and the identity check for the reviewer.",
                    tool="summarize",
                    tool_input="profile + identity check",
                    result="Summary ready for review.",
                ),
            ),
        ),
        SimTask(
            task_id="send_welcome",
            description="Write and send the welcome email to $name.",
            expected_output="The welcome email as sent.",
            agent="Customer Success Writer",
            duration=12.6,
            output=_ONBOARDING_WELCOME,
            steps=(
                SimStep(
                    thought="Write a short welcome with the three first steps.",
                    tool="send_email",
                    tool_input="$email",
                    result="Accepted by the mail server (250 OK).",
                ),
            ),
        ),
    ),
    error="Method verify_identity failed: identity provider timed out after 30 s",
    fail_at=15.0,
    pause=SimPause(
        method="approve_account",
        message=(
            "Approve the $plan account for $company ($email)? Identity check: passed, risk 12/100."
        ),
        emit=("approved", "rejected"),
        rejected_output=(
            "## Account rejected\n\nThe reviewer rejected the $plan account for $company.\n"
        ),
    ),
)

CREWS: Mapping[str, SimCrew] = MappingProxyType(
    {crew.name: crew for crew in (TRAVEL, OUTREACH, CONTENT, RESEARCH)}
)
# Flow deployments: served next to the crews, each at its own base URL too.
FLOWS: Mapping[str, SimCrew] = MappingProxyType({ONBOARDING.name: ONBOARDING})
DEPLOYMENTS: Mapping[str, SimCrew] = MappingProxyType({**CREWS, **FLOWS})
