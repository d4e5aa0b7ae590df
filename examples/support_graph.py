"""The graph of examples/support_graph.yaml: a support desk run by three agents.

``triage`` classifies the ticket with a model; a conditional edge sends it to the
``billing_agent`` (which reads the customer's invoices with a tool, finds double charges
and drafts a refund) or to the ``tech_agent``. A refund waits for a person's approval
(``interrupt()``): answer it with ``omium resume ID --input '{"approved": true}'``.

The model is scripted so the example runs offline; swap ``ScriptedChatModel(...)`` for a
real chat model (for example ``ChatOpenAI(model="gpt-4o-mini")``) to use a provider.
Both are wrapped with ``record_model`` / ``record_tool``, so every call is an ``llm.call``
or ``tool.call`` event and ``omium replay ID --reexecute`` runs the graph again for free.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from omium.adapters.langgraph.models import ScriptedChatModel, record_model, record_tool

INVOICES = Path(__file__).resolve().parent / "data" / "invoices.json"

# The scripted model answers by what it is asked (rules), not by call order, so a graph
# resumed after a crash or rolled back to a checkpoint gets the same answers.
RULES = [
    {"when": "Draft a refund", "answer": "We are sorry: you were charged twice. We refund it."},
    {"when": "Draft an answer", "answer": "Please reset your password from the login page."},
    {"when": "password", "answer": "technical"},
    {"when": "Classify", "answer": "billing"},
]


class Ticket(TypedDict, total=False):
    customer: str
    message: str
    category: str
    refund: float
    draft: str
    approved: bool
    reply: str


def lookup_invoices(customer: str) -> list[dict[str, Any]]:
    """The tool: a customer's invoices, read from a local file."""
    invoices: dict[str, list[dict[str, Any]]] = json.loads(INVOICES.read_text())
    return invoices.get(customer, [])


def build() -> StateGraph[Ticket]:
    """The support graph (omium compiles it with its checkpointer)."""
    model = record_model(ScriptedChatModel(rules=RULES), name="scripted-support")
    invoices = record_tool(lookup_invoices)

    async def triage(ticket: Ticket) -> Ticket:
        answer = await model.ainvoke(
            f"Classify this ticket as billing or technical: {ticket['message']}"
        )
        category = "billing" if "billing" in str(answer.content).lower() else "technical"
        return {"category": category}

    def route(ticket: Ticket) -> Literal["billing_agent", "tech_agent"]:
        return "billing_agent" if ticket["category"] == "billing" else "tech_agent"

    async def billing_agent(ticket: Ticket) -> Ticket:
        rows = await invoices.ainvoke({"customer": ticket["customer"]})
        seen: set[float] = set()
        refund = 0.0
        for row in rows:  # a repeated amount is a double charge
            if row["amount"] in seen:
                refund += row["amount"]
            seen.add(row["amount"])
        draft = await model.ainvoke(f"Draft a refund reply for a refund of ${refund:.2f}.")
        return {"refund": refund, "draft": str(draft.content)}

    def approval(ticket: Ticket) -> Ticket:
        answer = interrupt({"question": f"Refund ${ticket['refund']:.2f} to {ticket['customer']}?"})
        approved = answer.get("approved") if isinstance(answer, dict) else bool(answer)
        return {"approved": bool(approved)}

    def send(ticket: Ticket) -> Ticket:
        if ticket.get("approved"):
            return {"reply": ticket["draft"]}
        return {"reply": "We looked into it; a colleague will contact you about the charge."}

    async def tech_agent(ticket: Ticket) -> Ticket:
        answer = await model.ainvoke(f"Draft an answer to: {ticket['message']}")
        return {"reply": str(answer.content)}

    graph = StateGraph(Ticket)
    graph.add_node("triage", triage)
    graph.add_node("billing_agent", billing_agent)
    graph.add_node("approval", approval)
    graph.add_node("send", send)
    graph.add_node("tech_agent", tech_agent)
    graph.add_edge(START, "triage")
    graph.add_conditional_edges("triage", route)
    graph.add_edge("billing_agent", "approval")
    graph.add_edge("approval", "send")
    graph.add_edge("send", END)
    graph.add_edge("tech_agent", END)
    return graph
