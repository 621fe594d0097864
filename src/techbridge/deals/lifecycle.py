"""The life of a docking (对接) as one declared table: state → action → (next state, who).

The service, the pages, the API and the command line all read :data:`TRANSITIONS`; no
other code decides which moves exist. Who may make a move is named by a party kind here
and judged for a principal by ``authz.deals.kinds_of``:

- ``answerer``: a member of a side that has not consented yet (double opt-in: asking is the
  requester's consent, accepting the other side's; of a docking a tech manager opened, both
  sides accept);
- ``requester``: a member of the side that asked;
- ``party``: a member of either side;
- ``manager``: the tech manager assigned to the docking;
- ``tech_manager``: any tech manager (taking a docking to broker it);
- ``staff``: administrators and exchange operators;
- ``exchange``: nobody here — ``registered`` is set only by
  :func:`techbridge.deals.service.mark_registered`, the hook for the exchange domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from techbridge.errors import Conflict

State = Literal[
    "requested",
    "accepted",
    "brokering",
    "meeting",
    "negotiating",
    "signed",
    "registered",
    "declined",
    "closed_lost",
]
STATES: tuple[str, ...] = get_args(State)
Action = Literal["accept", "decline", "assign", "meet", "propose", "sign", "close", "register"]
ACTIONS: tuple[str, ...] = get_args(Action)
PartyKind = Literal[
    "answerer", "requester", "party", "manager", "tech_manager", "staff", "exchange"
]

# Why a docking was closed without a deal (reason code → the label's English text).
LostReason = Literal["price", "ip_ownership", "technical_fit", "timing", "unresponsive", "other"]
LOST_REASONS: tuple[str, ...] = get_args(LostReason)

# Of a confidential demand, what one docking's counterpart is shown, in increasing order.
Reveal = Literal["summary", "full", "contacts"]
REVEALS: tuple[str, ...] = get_args(Reveal)


@dataclass(frozen=True)
class Move:
    to: State
    who: frozenset[PartyKind]


def _who(*kinds: PartyKind) -> frozenset[PartyKind]:
    return frozenset(kinds)


BROKERS = _who("party", "manager")
CLOSERS = _who("party", "manager", "staff")

TRANSITIONS: dict[State, dict[Action, Move]] = {
    "requested": {
        # Stays "requested" until both sides have consented (see accept in the service).
        "accept": Move("accepted", _who("answerer")),
        "decline": Move("declined", _who("answerer")),
        # A tech manager takes a docking from the queue (one sent to an organisation
        # without members) to reach that organisation; the state does not change.
        "assign": Move("requested", _who("tech_manager", "staff")),
        "close": Move("closed_lost", _who("requester", "manager", "staff")),
    },
    "accepted": {
        "assign": Move("brokering", _who("tech_manager", "staff")),
        "close": Move("closed_lost", CLOSERS),
    },
    "brokering": {
        "meet": Move("meeting", BROKERS),
        "close": Move("closed_lost", CLOSERS),
    },
    "meeting": {
        "meet": Move("meeting", BROKERS),
        "propose": Move("negotiating", BROKERS),
        "close": Move("closed_lost", CLOSERS),
    },
    "negotiating": {
        "meet": Move("negotiating", BROKERS),
        "propose": Move("negotiating", BROKERS),
        "sign": Move("signed", BROKERS),
        "close": Move("closed_lost", CLOSERS),
    },
    "signed": {
        "register": Move("registered", _who("exchange")),
    },
    "registered": {},
    "declined": {},
    "closed_lost": {},
}

OUTCOMES: frozenset[str] = frozenset(
    state for state, moves in TRANSITIONS.items() if not moves
)  # registered, declined, closed_lost
OPEN_STATES: tuple[str, ...] = tuple(state for state in STATES if state not in OUTCOMES)
# From here on the two sides have both consented: contacts and the thread are open.
CONSENTED_STATES: frozenset[str] = frozenset(
    {"accepted", "brokering", "meeting", "negotiating", "signed", "registered", "closed_lost"}
)


def allowed(state: str) -> tuple[str, ...]:
    """The actions that exist in this state (whoever may take them)."""
    return tuple(TRANSITIONS.get(state, {}))  # type: ignore[call-overload]


def move(state: str, action: str) -> Move:
    """The move ``action`` makes from ``state``; an illegal one is refused naming the
    current state and the actions it allows."""
    found = TRANSITIONS.get(state, {}).get(action)  # type: ignore[call-overload]
    if found is None:
        options = ", ".join(allowed(state)) or "none (it is an outcome)"
        raise Conflict(
            f"a docking in state {state!r} cannot {action!r}; allowed now: {options}",
            field="action",
        )
    assert isinstance(found, Move)
    return found


def check_table() -> None:
    """The table's own consistency (run by the tests): every target is a state, every
    state is reachable from ``requested``."""
    seen, todo = {"requested"}, ["requested"]
    while todo:
        for found in TRANSITIONS[todo.pop()].values():  # type: ignore[index]
            assert found.to in STATES
            if found.to not in seen:
                seen.add(found.to)
                todo.append(found.to)
    assert seen == set(STATES), set(STATES) - seen
