"""Framework bridges: framework activity in, events out; framework state back from a checkpoint.

- :mod:`omium.adapters.python`: plain Python steps (resolve, run with a timeout, check the
  output is JSON);
- :mod:`omium.adapters.langgraph`: ``OmiumSaver``, a LangGraph checkpointer on the log, and
  the graph runner (superstep by superstep), recorded and scripted chat models;
- :mod:`omium.adapters.crewai`: crews from specs, run task by task, the event-bus listener,
  the scripted LLM and recorded replay;
- :mod:`omium.adapters.pricing` (LLM cost) and :mod:`omium.adapters.jsonable` (values to JSON).

Imports :mod:`omium.schemas` and :mod:`omium.producers` only (never ``projections``, never a
runtime): the runtimes in :mod:`omium.processors` drive these. Each framework is an optional
extra, imported only when its sub-package is.
"""
