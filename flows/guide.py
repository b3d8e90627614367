"""Request guide: the VNeID path step by step, with Back/Next, a picture drawn
by the project for each step, and the common problems at each step.

Steps, their pictures and their problems come from the knowledge base
(`domain/data/knowledge`), so content authors edit them without touching code.
Every step's reply shares one `edit_key`, so channels that can edit messages
turn the pages in place.

```mermaid
stateDiagram-v2
    [*] --> STEP: guide (step 1), or a question naming a step (that step, its problems shown)
    STEP --> STEP: Next / Back
    STEP --> PROBLEMS: Common problems
    PROBLEMS --> STEP: Back to the step
    STEP --> [*]: Done (last step) -> menu
```
"""

from __future__ import annotations

from enum import StrEnum

from core.messages import Image, Reply
from domain.knowledge.model import GuideStep
from flows.base import Context, Flow, Turn, is_plain_number, rows


class State(StrEnum):
    STEP = "step"
    PROBLEMS = "problems"


EDIT_KEY = "guide"


class Guide(Flow):
    name = "guide"

    async def start(self, ctx: Context, arg: str = "") -> list[Reply]:
        """`arg`: the index of the step a question named, answered with that
        step's common problems too; none: step 1."""
        steps = ctx.services.knowledge.guide_steps(ctx.lang)
        index = int(arg) if is_plain_number(arg) and int(arg) < len(steps) else 0
        ctx.goto(self.name, State.STEP, index=index)
        ctx.event("guide_started")
        return [self.step_reply(ctx, index, with_problems=bool(arg))]

    async def on_input(self, ctx: Context, turn: Turn) -> list[Reply] | None:
        action = turn.action[1:]
        steps = ctx.services.knowledge.guide_steps(ctx.lang)
        if ctx.conversation.flow != self.name:  # a button from an older guide message
            ctx.goto(self.name, State.STEP, index=0)
        index = int(ctx.data.get("index", 0))
        match action:
            case ["step", number] if is_plain_number(number):
                index = min(max(int(number), 0), len(steps) - 1)
            case ["problems", number] if is_plain_number(number):
                index = min(max(int(number), 0), len(steps) - 1)
                ctx.data["index"] = index
                ctx.set_state(State.PROBLEMS)
                return [self.problems_reply(ctx, index)]
            case ["done"]:
                ctx.event("guide_finished")
                return [Reply(ctx.t("guide.done")), *await ctx.start("menu")]
            case _:
                return None
        ctx.data["index"] = index
        ctx.set_state(State.STEP)
        if index == len(steps) - 1:
            ctx.event("guide_last_step")
        return [self.step_reply(ctx, index)]

    def step_reply(self, ctx: Context, index: int, with_problems: bool = False) -> Reply:
        steps = ctx.services.knowledge.guide_steps(ctx.lang)
        step = steps[index]
        navigation = []
        if index > 0:
            navigation.append(ctx.button("button.back", f"guide:step:{index - 1}"))
        if index < len(steps) - 1:
            navigation.append(ctx.button("button.next", f"guide:step:{index + 1}"))
        else:
            navigation.append(ctx.button("guide.finish", "guide:done"))
        extra = [ctx.button("guide.problems", f"guide:problems:{index}")] if step.problems else []
        header = ctx.t("guide.step_header", number=index + 1, total=len(steps), title=step.title)
        parts = [header, step.body]
        if with_problems and step.problems:
            parts.append(self.problem_list(step.problems))
        return Reply(
            "\n\n".join(parts),
            buttons=rows(navigation, extra, ctx.menu_row()),
            image=self.picture(ctx, index, step),
            edit_key=EDIT_KEY,
        )

    def problems_reply(self, ctx: Context, index: int) -> Reply:
        step = ctx.services.knowledge.guide_steps(ctx.lang)[index]
        header = ctx.t("guide.problems_header", number=index + 1, title=step.title)
        return Reply(
            f"{header}\n\n{self.problem_list(step.problems)}",
            buttons=rows((ctx.button("guide.back_to_step", f"guide:step:{index}"),), ctx.menu_row()),
            edit_key=EDIT_KEY,
        )

    @staticmethod
    def problem_list(problems: list[str]) -> str:
        return "\n\n".join(f"• {problem}" for problem in problems)

    def picture(self, ctx: Context, index: int, step: GuideStep) -> Image | None:
        draw = ctx.services.illustrations
        if draw is None:
            return None
        return Image(
            png=draw(index, ctx.lang), alt=self.picture_alt(ctx, index, step), key=f"guide/{ctx.lang}/step-{index + 1}"
        )

    @staticmethod
    def picture_alt(ctx: Context, index: int, step: GuideStep) -> str:
        """What the picture shows, for a screen reader: the screen, its rows, the one to tap."""
        items = step.screen_items
        if not items:
            return step.title
        return ctx.t(
            "guide.picture_alt",
            number=index + 1,
            title=step.title,
            screen=step.screen_header or "VNeID",
            items=", ".join(items),
            target=items[step.screen_highlight] if 0 <= step.screen_highlight < len(items) else step.title,
        )
