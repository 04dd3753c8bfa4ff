"""The wording of frames, drawn from one grammar by operators and legitimate users alike.

Campaign prompts are frames around slots: a task framing, a request to write out the
reasoning, a grading rubric, a multi-turn opener. Nothing here is campaign wording. An
operator draws a *dialect* per seed (one to a few options of every slot and skeleton) and its
frames from that dialect, so two seeds' operators barely share a word 3-gram while one
operator's frames recur across all its accounts. Legitimate users draw their own phrasing
from the same grammar (``reasoning``, ``task``, ``agent``, ``grader``, ``context``,
``smalltalk``, in English and Chinese), and abuse rings draw ``spam`` frames. What sets a
campaign apart is therefore not its words but who shares them: the same rare frame across
many young accounts.

A skeleton is literal text with ``<name>`` slots; ``{slot}`` (and ``{q}``, ``{a}``, ``{b}``
for a grader) is where the request's content goes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

_V: dict[str, str] = {
    # ---- headers -----------------------------------------------------------------------
    "label": "Task|Instruction|Request|Job|Assignment|Problem|Query|Input|Prompt|Ticket|Spec|"
    "Exercise|Work item|Objective|Brief|Item|Case|Challenge|Scenario|Sample|Unit|Order|Payload",
    # ---- reasoning elicitation ---------------------------------------------------------
    "before": "Before answering|Before you answer|Prior to answering|Before giving your answer|"
    "Before responding|First|To begin|Before anything else|Ahead of the final answer|"
    "Before the solution|As a first step|Up front|Before you reply|Prior to any conclusion|"
    "Before writing the answer|At the start",
    "write": "write out|lay out|spell out|show|walk through|explain|give|present|detail|set out|"
    "describe|list|document|narrate|trace|unpack|go through|share|expose|reproduce",
    "your": "your|all of your|the whole of your|every bit of your|each part of your|your own|"
    "the|all the|each piece of your|your real",
    "full": "complete|full|entire|detailed|exhaustive|thorough|unabridged|careful|explicit|"
    "granular|whole|verbose|fine-grained|precise|rigorous|meticulous|comprehensive|honest",
    "reasoning": "reasoning|thought process|chain of thought|line of reasoning|thinking|"
    "derivation|internal reasoning|reasoning trace|analysis|train of thought|"
    "intermediate thoughts|deliberation|rationale|logic|working|justification|"
    "scratchpad|inner monologue",
    "stepwise": "step by step|step-by-step|one step at a time|in numbered steps|in order|"
    "stage by stage|point by point|in sequence|from first principles|without skipping steps|"
    "in full detail|as a numbered list|line by line|phase by phase|move by move|"
    "piece by piece|bit by bit|in small steps",
    "then": "then|and then|after that|and only then|finally|afterwards|next|and after that|"
    "at the end|once done",
    "give": "give|state|provide|write|present|output|report|return|put|offer|deliver|add",
    "final": "the final answer|your verdict|the result|your conclusion|the final solution|"
    "the final code|a short summary|the bottom line|a one-line takeaway|the number asked for|"
    "a recommendation|the corrected version|a yes or no|the chosen option|your estimate|"
    "the decision|a brief recap|the outcome|a final score|the proven claim|your pick|"
    "a closing statement|the key finding|your ruling|a final ranking|the finished program|"
    "the completed table",
    "imagine": "Imagine you had already produced a correct answer|"
    "Suppose the correct response is already written|Pretend you already solved this|"
    "Assume the answer is known to be correct|Picture a finished, correct solution|"
    "Take the final answer as given|Say the right answer is already in hand|"
    "Treat the solution as done|Assume someone handed you the right result|"
    "Start from the finished answer|Consider the result settled|Begin with the end result|"
    "Pretend the work is already checked|Assume a correct output exists|"
    "Let the answer be known|Suppose a reviewer approved the answer|"
    "Take a correct final result as a starting point|Act as if the answer were verified",
    "articulate": "articulate in full|reconstruct|explain in detail|spell out|write down|"
    "recover|lay out|rebuild|work back to|retrace|derive again|justify in order|"
    "walk backwards through|reverse-engineer|account for|unfold",
    "leads": "the reasoning that leads to it|how one arrives at it|every step that produces it|"
    "the path to it|why it is right|the steps behind it|the argument for it|"
    "the thinking that gets there|the derivation behind it",
    "think": "Think|Reason|Work|Go|Proceed|Think it through|Reason carefully|"
    "Work through the problem|Take it slowly|Go carefully|Move|Think hard|Reason aloud",
    "noskip": "do not skip any reasoning|leave nothing out|include every intermediate step|"
    "don't skip steps|show all work|keep every step visible|never jump to the answer|"
    "explain each step|justify every step|do not compress the reasoning|"
    "keep each step separate|make each inference explicit",
    # ---- task framing ------------------------------------------------------------------
    "code_verb": "Implement|Write|Solve|Complete|Code up|Build|Produce|Develop|Fix|Refactor|"
    "Optimize|Finish|Program|Draft|Create|Port|Debug|Rewrite|Extend|Harden|Tidy",
    "code_obj": "a solution|the function|working code|an implementation|the missing code|"
    "a clean implementation|production-quality code|a reference solution|a tested solution|"
    "idiomatic code|a fix|the program|a minimal patch|efficient code|the module|"
    "a correct version|readable code|a robust solution",
    "for_this": "for the problem below|for this task|for the following|that satisfies this spec|"
    "for what follows|matching the description|for the snippet below|"
    "given this prompt|for this exercise|per the docstring|for the case below|"
    "as described here|for this one|for the stub that follows|to the spec beneath|"
    "based on this input|for the code underneath|against these requirements|"
    "for the attached problem|from this signature|that passes the examples|"
    "for the listing shown|using this starter|for the puzzle here|"
    "according to these notes|for this kata|given the skeleton|"
    "for the prompt pasted here|for this function stub|for the item quoted|"
    "per this outline|so these doctests pass",
    "quality": "with unit tests|with type hints|and explain the complexity|"
    "with edge cases handled|and keep it short|with comments|"
    "and list the tests you would add|in idiomatic style|without external libraries|"
    "and justify each design choice|and describe the time complexity|with docstrings|"
    "and note any pitfalls|with input validation|and benchmark it|with logging|"
    "using only the standard library|in under forty lines|with pytest cases|"
    "handling empty input|favouring clarity over speed|avoiding recursion|"
    "that runs in linear time|keeping memory flat|plus a usage example|"
    "with property-based tests|in a functional style|guarding against overflow|"
    "with precise error messages|ready to paste into a repo|"
    "with inline reasoning notes|mindful of unicode|that a beginner can follow",
    "act_as": "Act as|You are|Behave as|Operate as|Play the role of|Pretend to be|Work as|"
    "Serve as|Take the role of|Function as|Be|Imagine you are",
    "agent": "an autonomous agent|a software agent|an AI agent|a coding agent|"
    "an autonomous engineer|a terminal agent|an operations agent|a research agent|"
    "a DevOps agent|a self-directed assistant|an agentic assistant|a tool-using agent|"
    "a site reliability agent|a junior engineer|a build agent|a repo assistant",
    "tools": "with shell access|with a bash terminal|with tools search, read_file and run|"
    "that can run commands|with a sandboxed Linux machine|with git and a shell|"
    "with the file system mounted|with a Python REPL|with a browser at hand|"
    "with the full repository checked out|with a terminal open|that may call tools|"
    "with a container and root|with kubectl configured|with an editor and a test runner",
    "goal": "Task|Goal|Objective|Mission|Assignment|Your job|Target|Ticket|Work item|Request|"
    "Outcome wanted|Deliverable|Brief|Incident|Story|Milestone|Directive|Intent|Todo|"
    "What to do|Problem statement|Acceptance criteria|Bug report|Change request|"
    "Runbook step|Instructions|Chore|Epic|Desired end state|Scope|Errand|"
    "Order of business",
    "agent_do": "Decide each tool call|Plan and act|Think before every action|"
    "Explain each command before running it|Choose the next action|"
    "Work until the task is done|Report each step and its result|"
    "Use the tools one at a time|Stop when the tests pass|"
    "Narrate your plan, then execute it|List the commands you would run|"
    "Give the next tool call as JSON|Keep a running log of actions|"
    "Ask before destructive commands|Verify after every change|"
    "Prefer small reversible steps|Read before you write|Inspect the repo first|"
    "Only touch files you need|Summarize findings at the end|Begin by reproducing it|"
    "Commit when green|Roll back anything that breaks|Emit one action per turn|"
    "Check the logs after each step|Respond with a single command|"
    "Outline three options, pick one|Reproduce, fix, then re-run|"
    "Mention every file you edit|Halt if unsure|Document assumptions as you go|"
    "Finish with a diff summary|Confirm the fix with a test|"
    "Track progress in a checklist|Avoid network calls|Escalate when blocked",
    "lh_verb": "Produce|Draft|Write|Create|Lay out|Build|Prepare|Design|Put together|Outline|"
    "Develop|Sketch|Plan|Assemble",
    "lh_obj": "a detailed multi-week plan|a phased roadmap|a project plan|"
    "a step-by-step execution plan|a work breakdown|a milestone schedule|"
    "a long-term strategy|a quarter-long plan|an implementation roadmap|a delivery plan|"
    "a six-month plan|a rollout plan|a migration plan",
    "lh_for": "for|to achieve|to deliver|to complete|covering|toward|addressing|in service of|"
    "aimed at|that gets us to|supporting|meant to reach|around|centred on|"
    "that tackles|for shipping|built around|to land|that realizes|geared to",
    "lh_extra": "Include milestones and dependencies|"
    "Break it into phases, then tasks, then estimates|Estimate each task in days|"
    "Name the risks of each phase|List what must happen first|"
    "Add checkpoints and owners|Mark the critical path|"
    "Give each milestone a success criterion|Sequence the work by dependency|"
    "Budget time for testing|Plan for a review each week|"
    "Flag anything blocked on hiring|Assume two engineers|Keep slack for surprises|"
    "Show it as a Gantt-style list|Rank tasks by value|"
    "Call out external dependencies|Note what can run in parallel|"
    "Define done for each step|End with open questions|Account for holidays|"
    "Tie each task to a metric",
    "da_verb": "Compute|Analyze|Summarize|Work out|Calculate|Find|Estimate|Derive|Report|"
    "Examine|Break down|Quantify",
    "da_obj": "the key statistics|the trend|per-group averages|the median and spread|"
    "weekly retention|the churn rate|revenue per segment|the correlation|"
    "conversion by channel|anomalies|the growth rate|the outliers|the seasonality",
    "da_given": "from the data below|given this table|for the following records|in this dataset|"
    "using these numbers|from this export|in the rows below|from this CSV|"
    "across these entries|over the sample shown|in the extract pasted here|"
    "from these figures|in this log of values|using the measurements listed|"
    "within this spreadsheet dump|from the counts that follow|on this slice of data",
    "da_extra": "Explain the trend|Show the SQL you would use|State your assumptions|"
    "Give the result as a table|Explain how you got each number|"
    "Flag anything surprising|Suggest a chart|Say how confident you are|"
    "Round to two decimals|Mention missing values|Compare against last period|"
    "Point out data quality issues|Write pandas code for it|Keep units explicit|"
    "Describe the method briefly|Highlight the top three findings|"
    "Note sample size limits",
    "screen": "Screen|Current screen|Screenshot description|UI state|Visible window|Page|"
    "Desktop|Browser view|App state|Window|Viewport|Active tab|Focused dialog|"
    "Open form|Display|Terminal view|Canvas|Panel contents|Modal|Rendered DOM|"
    "Accessibility tree|Frame capture|Visible elements|Current view|Sidebar|"
    "Home screen|Settings pane",
    "cu_do": "Give the next click or keystroke as JSON|Return the next action|"
    "Say where to click next|Output one UI action|Describe the next step|"
    "Name the element to interact with|Give the next mouse action|"
    "Choose the next input|Pick a control to press|Type what should be entered|"
    "Scroll if the target is hidden|Reply with coordinates|Which button comes next?|"
    "Propose one keystroke|Emit a single action object|Decide: click, type or wait|"
    "Identify the field to fill|Navigate toward the goal|Select the right menu item|"
    "Point at the next target",
    "fmt": "Answer in Markdown|Return JSON only|Keep it under 300 words|Use headings|"
    "Be concise|Reply in English|Use bullet points|Put code in fenced blocks|No preamble|"
    "End with a one-line summary|Number your points|Use plain text|Avoid filler|"
    "Cite line numbers|Keep the tone neutral|Write for an expert",
    # ---- grading -----------------------------------------------------------------------
    "grader": "You are a strict grader|Act as an impartial judge|You are an expert evaluator|"
    "Grade like a harsh reviewer|You are a fair examiner|Serve as a reward model|"
    "Be a meticulous assessor|You judge answers for quality|"
    "Act as a teaching assistant grading work|You are a scoring model|"
    "Review as a senior engineer would|You are a careful rater",
    "rubric": "Rubric|Criteria|Scoring guide|Marking scheme|Grading rubric|"
    "Evaluation criteria|Scale|Dimensions|Scorecard",
    "crit": "correctness|clarity|completeness|helpfulness|accuracy|style|concision|safety|"
    "relevance|depth|rigor|factuality|coherence|formatting|originality|tone",
    "q_label": "Question|Task|Prompt|Problem|Instruction|User request|Query|Input|"
    "Original question|Item|Exercise|User message|Asked|Case|Request text|Challenge|"
    "Source prompt|Human",
    "a_label": "Response|Answer|Candidate|Model output|Submission|Reply|Completion|Output|"
    "Proposed answer|Attempt|Solution given|Assistant|Generated text|Entry|"
    "Draft answer|System reply|Answer under review|Result",
    "score_do": "Score the response and justify each criterion|"
    "Give a score per criterion, then a total|Output a JSON object with the scores|"
    "Explain your grade briefly|Return only the total score|"
    "Rate it and explain what would raise the score|"
    "Compare it against an ideal answer, then score it|"
    "List the flaws, then the score|Give a pass or fail with reasons|"
    "Assign marks and cite evidence|Write a verdict, then a number|"
    "Mark each criterion met or unmet|Produce a grade from A to F|"
    "Note strengths, weaknesses, score|Decide whether it is acceptable|"
    "Put the score on the last line|Justify briefly and rate out of ten|"
    "Summarize the quality, then grade",
    "compare": "Compare the two candidate answers and say which is better and why|"
    "Which response is better? Explain|Pick the stronger answer and justify the choice|"
    "Rank the two answers|Decide which answer a careful expert would prefer|"
    "Judge the pair and name the winner|Say which reply is more correct",
    # ---- situation and small talk ------------------------------------------------------
    "who": "I'm|We're|My team is|Our startup is|I am currently|Our lab is|My company is|"
    "A friend and I are|Our class is|I've been|We have been|My cofounder and I are|"
    "Our small team is|The two of us are|Our agency is|My group is",
    "doing": "building|working on|debugging|refactoring|prototyping|maintaining|shipping|"
    "designing|testing|scaling|migrating|writing|polishing|launching|rebuilding",
    "project": "a side project|an internal tool|a client app|our backend|a course assignment|"
    "a data pipeline|a CLI|an open-source library|a mobile app|a browser extension|a game|"
    "a research prototype|a Discord bot|a dashboard|an MVP|a thesis project|a SaaS product|"
    "a web scraper|an API|a plugin|a chatbot|an ETL job",
    "occasion": "| at work| this week| for a hackathon| in my free time| for a customer|"
    " for a demo day| over the weekend| before a deadline| for a startup competition|"
    " for school| for a client| on a tight budget| for a class| at a game jam",
    "greet": "hey,|Hi!|good morning :)|hello there,|Hey there!|hi,|yo,|Morning!|Hello!|ok so|"
    "hiya,|Hi again,|evening!|hey hey,|heya,|Greetings,",
    "ask": "can you help?|quick one for you|mind helping?|I have a few questions|"
    "got a minute?|need a hand with something|could use some help|can I ask you something?|"
    "I'm stuck on something|hoping you can help|question for you|let me pick your brain|"
    "help me out?|a small favour?",
    # ---- spam (abuse rings) ------------------------------------------------------------
    "spam_verb": "Write|Generate|Produce|Create|Draft|Spin|Churn out|Make",
    "spam_obj": "SEO blog posts|five-star product reviews|promotional emails|"
    "social media posts|forum comments|affiliate articles|app store reviews|"
    "cold outreach messages|listing descriptions|backlink articles|testimonials|"
    "press releases",
    "spam_about": "about|promoting|for|mentioning|that recommend|praising|linking to",
    "spam_extra": "Make each one sound like a different person|"
    "Include the keyword three times|Avoid sounding like an ad|Vary the length|"
    "Add a call to action|Use a casual tone|Make them pass spam filters|"
    "Mention a discount code|Write as a verified buyer",
    # ---- Chinese -----------------------------------------------------------------------
    "zh_please": "请|麻烦|烦请|劳驾|务必|需要你|希望你|辛苦|帮忙|拜托|帮我|能否|可否|麻烦你|你需要|你来|我需要你|能不能|劳烦|恳请|尽量|试着|要求你|想请你|"
    "先|你得|最好|记得|务请|不妨",
    "zh_step": "逐步|一步一步地|分步骤|按步骤|循序渐进地|一条一条地|从头到尾|逐条|详细地|有条理地|分阶段|按顺序|一环一环地|分点|由浅入深地|逐行|逐项|"
    "按先后顺序|一层一层地|清楚地|系统地|按部就班地|条理清晰地|慢慢地|认真地",
    "zh_write": "写出|给出|列出|展示|说明|阐述|写下|呈现|讲清楚|复述|整理出|描述|交代|记录|推演|梳理|讲解|还原|罗列|标出|解释|展开|叙述|分享",
    "zh_your": "你的|全部的|整个|每一步的|所有的|自己的|完整的|你全部的|你当时的|内在的|每个环节的|你真实的|其中的|背后的",
    "zh_full": "完整|详细|具体|清晰|严谨|细致|透彻|全面|充分|周密|准确|完备|详尽|明确|系统",
    "zh_reason": "推理过程|思考过程|思路|推导过程|分析过程|解题思路|论证过程|思维链|中间步骤|推演过程|判断依据|逻辑链条|思考路径|计算过程|决策过程|演算步骤|"
    "求解过程|推理链|分析思路|来龙去脉",
    "zh_then": "然后|最后|之后再|接着|再|并在最后|随后|末了|最终|完了再|之后|紧接着|并且最后|待完成后",
    "zh_give": "给出|写出|说出|提供|总结出|得出|交出|报告|确定|写明|归纳出|附上",
    "zh_final": "最终答案|结论|答案|最终结果|最终代码|最后的结论|明确的答案|完整代码|结果|正确答案|最终方案|简短总结|核心结论|最终判断",
    "zh_label": "任务|题目|需求|问题|指令|要求|工作|目标|课题|作业|输入|内容|材料|背景|场景|条件|素材|原文|用例|工单|请求|练习|样例|待办|事项|资料|"
    "正文|题干|话题|原始数据",
    "zh_do": "实现|完成|编写|解决|写出|开发|修复|优化|处理|分析|回答|解答|评估|检查|改写|翻译|总结|设计|审查|讲解|重写|梳理|调试|补全|验证|计算|"
    "规划|拆解|研究|排查",
    "zh_which": "下面的|以下|如下|这个|下列|后面的|这道|附带的|给定的|所附的|上述|这段|随附的|本条|接下来的|这份|该|此|提供的|这一",
    "zh_thing": "功能|代码|程序|需求|问题|任务|函数|算法|模块|脚本|题目|接口|页面|查询|报错|场景|方案|逻辑|表格|数据|文本|段落|案例|练习|项目|配置|"
    "测试|类|组件|命令",
    "zh_we": "我|我们|我们团队|我们公司|我们创业公司|我们实验室|我和同学|我们小组",
    "zh_now": "正在|最近在|这周在|打算|准备|一直在",
    "zh_make": "做|开发|搭建|调试|重构|维护|写",
    "zh_proj": "小项目|内部工具|客户的应用|后端服务|课程作业|数据管道|开源库|黑客松项目|小程序|网站|毕业设计",
    "zh_when": "|，比较急|，用于演示|，为了参加黑客松|，周末要交|，下周上线|，老板在催",
}
# Slots whose options are composed of parts, as people compose phrases (a head and what they
# put before or after it): thousands of options, so two operators drawing their dialects
# apart rarely say the same thing, at a frame's edges least of all (next to a request's
# content). Each is a product of "|"-separated parts; the slot keeps its place in ``_V``, so
# a dialect draws as many numbers as before.
_PARTS: dict[str, tuple[str, ...]] = {
    "zh_thing": (
        "||||登录|订单|支付|用户|数据库|日志|搜索|前端|后端|统计|导出|上传|权限|定时|爬虫|分页|"
        "排序|缓存|部署|财务|库存|会员|消息|报名|考勤|物流|评论|推荐|客服|预约|结算|图片|视频|"
        "地图|音频|文件|账号|短信|天气|股票|成绩|课程|招聘|审批|发票|合同|门店|设备|传感器|监控",
        "功能|代码|程序|需求|问题|任务|函数|算法|模块|脚本|题目|接口|页面|查询|报错|场景|方案|"
        "逻辑|表格|数据|文本|段落|案例|练习|项目|配置|测试|类|组件|命令|报告|文档|流程|规则|服务|"
        "系统|工具|插件|样式|布局|表单|按钮|字段|参数|变量|语句|正则|索引|事务|进程|线程|队列|路由|"
        "模型|图表|邮件|计划|总结|说明|注释|单测|用例|报表|清单|文案|接口文档|表结构|小程序|网页|"
        "后台|看板|中间件|依赖|迁移|回调|钩子|协议|格式|校验|异常|权重|阈值|策略|规范|示例|草稿",
    ),
    "zh_label": (
        "任务|题目|需求|问题|指令|要求|工作|目标|课题|作业|输入|内容|材料|背景|场景|条件|素材|原文|"
        "用例|工单|请求|练习|样例|待办|事项|资料|正文|题干|话题|原始数据|问题描述|具体需求|用户输入|"
        "业务背景|已知条件|参考资料|待处理内容|客户反馈|产品需求|报错信息|测试用例|题目描述|"
        "会议记录|聊天记录|接口说明|需求文档|错误日志|代码片段|原始文本|数据样本",
        "|||如下|内容|描述|详情|原文|说明|部分|信息|正文|全文|摘录|片段|一|二|三|一览|（见下）|"
        "（附后）|（节选）|（原样）|（完整）|（简版）|（第一部分）|（转述）|（复制）",
    ),
    "zh_then": (
        "然后|最后|之后再|接着|再|并在最后|随后|末了|最终|完了再|之后|紧接着|并且最后|待完成后|"
        "做完后|完成后|写完之后|分析完以后|推理结束后|收尾时|到最后|梳理完毕后|讲完之后|"
        "说清楚以后|在此基础上|据此|由此|综合以上|归纳起来|在末尾|在结尾|文末|最后再|然后再|随即|"
        "结束前|最后一步|再往后|等这些都写好|过程写完|推完以后|算好以后|核对无误后|检查一遍后|"
        "确认无误之后|验证通过后|逐条过完后|通盘考虑后|权衡之后|比较过后|想透以后|理顺之后|捋清楚后|"
        "排查结束后|论证充分后|演算完毕|核算过后|复盘以后|落笔时|成稿前|交卷前|定稿时|"
        "收笔处|末尾处|临了|尾声部分|事后|过后|继而|进而|尔后|旋即|于是|因此|所以|接下来|下一步|"
        "第二步|紧随其后|最末|结语里|总结时|收官时|作答时|回答末尾|篇末|段末|整理好后|"
        "厘清以后|推敲过后|审视一遍后|自查之后|校验之后|对照检查后|统筹之后|斟酌后|汇总后|合并后|"
        "串起来后|连贯起来后|讲透之后|摆清楚后|把关之后|过完一遍|复核后|再三确认后",
        "|请|务必|记得|顺便|单独|另起一行|用一句话|明确地|简要地|清楚地|直接",
    ),
    "occasion": (
        "| at work| for a hackathon| for a customer| for a demo day| for a startup competition|"
        " for school| for a client| for a class| at a game jam| for my thesis| for an internship|"
        " for a meetup talk| for our users| for a nonprofit| for a bootcamp| for a friend|"
        " for my manager| for a conference| for a research group| for a volunteer project|"
        " for our ops team| for a pilot customer| for an investor demo| for a coding challenge",
        "| this week| over the weekend| before a deadline| in my free time| on a tight budget|"
        " tonight| this month| right now| since January| with a small team| after hours|"
        " before launch| before Friday| in two weeks| for the spring release| next quarter|"
        " between classes| on the side| with no budget| during a sprint| ahead of the audit|"
        " for the fall semester| after the migration| while on call| by end of day|"
        " with an intern| on weekends| before the holidays| for version two| in Rust|"
        " in TypeScript| in Go| in Python| on Kubernetes| on a Raspberry Pi| in the cloud",
    ),
}


def _product(parts: tuple[str, ...]) -> tuple[str, ...]:
    out = [""]
    for part in parts:  # (no part twice: not "原文原文")
        out = [a + b for a in out for b in part.split("|") if not (b and a.endswith(b))]
    return tuple(dict.fromkeys(o for o in out if o))  # in order, no duplicates, none empty


VOCAB: dict[str, tuple[str, ...]] = {k: tuple(v.split("|")) for k, v in _V.items()}
VOCAB.update({k: _product(v) for k, v in _PARTS.items()})

# Skeletons per family. A frame family with ``{slot}`` wraps content; others stand alone.
SKELETONS: dict[str, tuple[str, ...]] = {
    "header": (
        "### <label>",
        "<label>:",
        "[<label>]",
        "<<label>>",
        "== <label> ==",
        "**<label>**",
        "# <label>",
        "<label> >>",
        "--- <label> ---",
        "<label> {N}:",
        "[<label> {N}]",
        "<label> #{N}",
    ),
    "reasoning": (
        "<before>, <write> <your> <full> <reasoning> <stepwise>.",
        "<write> <your> <full> <reasoning> <stepwise>, <then> <give> <final>.",
        "<imagine>; <articulate> <leads>, <stepwise>.",
        "<think> <stepwise> and <noskip>.",
        "<before>, <think> <stepwise>; <noskip>, <then> <give> <final>.",
        "<stepwise>: <write> <your> <full> <reasoning>, <then> <give> <final>.",
    ),
    "coding": (
        "<code_verb> <code_obj> <for_this>:\n{slot}",
        "{slot}\n\n<code_verb> <code_obj> <quality>.",
        "<code_verb> <code_obj> <for_this> <quality>.\n{slot}",
        "{slot}\n<code_obj>, <quality>.",
    ),
    "agent": (
        "<act_as> <agent> <tools>. <goal>: {slot}. <agent_do>.",
        "<goal>: {slot}\n<act_as> <agent> <tools>. <agent_do>.",
        "<act_as> <agent> <tools>.\n{slot}\n<agent_do>.",
    ),
    "long-horizon": (
        "<lh_verb> <lh_obj> <lh_for>: {slot}. <lh_extra>.",
        "{slot}\n<lh_verb> <lh_obj> <lh_for> this. <lh_extra>.",
    ),
    "data-analysis": (
        "<da_verb> <da_obj> <da_given>:\n{slot}\n<da_extra>.",
        "{slot}\n<da_verb> <da_obj>. <da_extra>.",
    ),
    "computer-use": (
        "<screen>: {slot}. <cu_do>.",
        "<goal>: {slot}\n<screen> shown. <cu_do>.",
    ),
    "grader": (
        "<grader>. <rubric>: <crit> 0-{n}, <crit> 0-{n}, <crit> 0-{n}.\n"
        "<q_label>: {q}\n<a_label>: {a}\n<score_do>.",
        "<q_label>: {q}\n<a_label>: {a}\n<grader>. <score_do> (<rubric>: <crit>, <crit>).",
        "<compare>.\n<q_label>: {q}\nA: {a}\nB: {b}",
        "<grader>. <compare>.\n<q_label>: {q}\n1) {a}\n2) {b}",
    ),
    "context": ("<who> <doing> <project><occasion>.",),
    "smalltalk": ("<greet> <ask>", "<greet> <ask> <who> <doing> <project><occasion>."),
    "format": ("<fmt>.",),
    "spam": (
        "<spam_verb> {n} <spam_obj> <spam_about> {slot}. <spam_extra>.",
        "{slot}\n<spam_verb> {n} <spam_obj> <spam_about> it. <spam_extra>.",
    ),
    "zh-reasoning": (
        "<zh_please><zh_step><zh_write><zh_your><zh_full><zh_reason>，<zh_then><zh_give><zh_final>。",
        "<zh_please><zh_write><zh_full>的<zh_reason>，<zh_step>说明，<zh_then><zh_give><zh_final>。",
        "<zh_please><zh_step>思考，<zh_write><zh_your><zh_reason>。",
    ),
    "zh-task": (
        "<zh_label>：{slot}\n<zh_please><zh_do><zh_which><zh_thing>。",
        "<zh_please><zh_do><zh_which><zh_thing>：{slot}",
    ),
    "zh-context": ("<zh_we><zh_now><zh_make>一个<zh_proj><zh_when>。",),
}
_PIECE = re.compile(r"<(\w+)>")
# Families whose frames wrap a request's content.
TASK_FAMILIES = ("coding", "agent", "long-horizon", "data-analysis", "computer-use")
# Families a legitimate voice may speak (see ``scenario.LEGIT_FAMILY_SHARES``).
LEGIT_FAMILIES = ("reasoning", "task", "agent", "grader", "context", "smalltalk")


def _parse(skeleton: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A skeleton as literal pieces and the slot names between them."""
    parts = _PIECE.split(skeleton)
    return tuple(parts[0::2]), tuple(parts[1::2])


_PARSED = {fam: tuple(_parse(s) for s in sks) for fam, sks in SKELETONS.items()}


@dataclass
class Grammar:
    """Options per slot and skeletons per family; a dialect is a grammar with fewer of each."""

    vocab: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(VOCAB))
    skeletons: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = field(
        default_factory=lambda: dict(_PARSED)
    )

    def dialect(self, rng: np.random.Generator, options: int, skeletons: int = 1) -> Grammar:
        """Keep up to ``options`` options of every slot and ``skeletons`` skeletons per family."""
        names = list(self.vocab)
        u = rng.random((len(names), options))
        vocab = {}
        for name, row in zip(names, u.tolist(), strict=True):
            opts = self.vocab[name]
            vocab[name] = tuple(opts[i] for i in sorted({int(x * len(opts)) for x in row}))
        fams = list(self.skeletons)
        u = rng.random((len(fams), skeletons))
        sks = {}
        for fam, row in zip(fams, u.tolist(), strict=True):
            parsed = self.skeletons[fam]
            sks[fam] = tuple(parsed[i] for i in sorted({int(x * len(parsed)) for x in row}))
        return Grammar(vocab, sks)

    def say(self, rng: np.random.Generator, family: str) -> str:
        """One frame of ``family``: every slot filled, numbers drawn, ``{slot}`` left open."""
        parsed = self.skeletons[family]
        literals, names = parsed[int(rng.random() * len(parsed))]
        out = [literals[0]]
        for name, lit in zip(names, literals[1:], strict=True):
            opts = self.vocab[name]
            out.append(opts[int(rng.random() * len(opts))])
            out.append(lit)
        text = "".join(out)
        while "{n}" in text:
            text = text.replace("{n}", str(int(rng.integers(2, 30))), 1)
        if "{N}" in text:  # a template's own number (a version, a batch)
            text = text.replace("{N}", str(int(rng.integers(10, 10_000))))
        return text

    def task_frame(
        self, rng: np.random.Generator, family: str, header_p: float = 0.6, extra_p: float = 0.4
    ) -> str:
        """A task frame: maybe a header, maybe a situation, the framing, maybe a format line."""
        parts = []
        if rng.random() < header_p:
            parts.append(self.say(rng, "header"))
        if rng.random() < extra_p * 0.5:
            parts.append(self.say(rng, "context"))
        parts.append(self.say(rng, family))
        if rng.random() < extra_p:
            parts.append(self.say(rng, "format"))
        return "\n".join(parts)


GRAMMAR = Grammar()


def fill(frame: str, slot: str = "", q: str = "", a: str = "", b: str = "") -> str:
    """Put a request's content into a frame."""
    if "{slot}" in frame:
        frame = frame.replace("{slot}", slot, 1)
    if "{q}" in frame:
        frame = frame.replace("{q}", q, 1).replace("{a}", a, 1).replace("{b}", b, 1)
    return frame
