"""Intelligent triage: symptoms read from free text (English or Chinese), red flags first, then an ESI-modelled level.

Rules, lexicon, questions and possible conditions are data (``data/*.yaml``) with their sources; the code here is
pure functions over them (no database, no HTTP), for the one-shot API and for the conversational interview.

One-shot use::

    from smartcare.knowledge.triage import Presentation, assess
    result = assess(Presentation(text="胸口疼，出冷汗", age_years=58, sex="male"))
    result.level            # "emergency" | "urgent" | "routine" | "self_care"
    result.call_emergency   # True: tell the person to call 120 now; never offer a booking first
    result.red_flags        # RedFlag(key, reason_en/zh, condition_en/zh, first_aid=("heart-attack",), source)
    result.departments      # Department(key, name_en/zh, reason_en/zh), best first (shared department keys)
    result.conditions       # PossibleCondition(key, page, icd10, name_en/zh, because) - to discuss, not a diagnosis
    result.reasons          # Reason(rule, level, text_en/zh, because=(facts that held), source) - most urgent first
    result.findings         # Finding(key, name_en/zh, present, source="text"|"answer"|"given"|"derived", matched, value)
    result.follow_up        # Question(id, text_en/zh, kind, options, min, max, unit) - empty when emergency

Interview use (repeated assessment as answers accumulate): keep the Presentation, ask ``follow_up`` questions one
by one, add each answer to ``answers`` keyed by the question id and call ``assess`` again; stop when
``call_emergency`` is true (show 120 and the first-aid guides at once) or ``follow_up`` is empty. After the questions
the findings call for, ``follow_up`` holds the safety screen (``safety_screen()``: breathing, chest pain, stroke signs,
drowsiness, bleeding that will not stop, thoughts of self-harm) until each is answered, so an interview never ends
below emergency without having asked about them directly, whatever the words said; ``safety_screen(facts)`` adds the
context screens that apply (``context_screens()``: a child under 5 - floppy, green vomit, a rash that does not fade,
something swallowed; a pregnancy or a recent birth - bleeding, fluid, pre-eclampsia signs, the baby's movements). Answer values:
yes_no -> True/False ("yes"/"no"/"是"/"否" also accepted), scale -> 0-10, number -> within the question's min/max,
choice -> one of the option values. ``check_answers`` validates answers (AnswerError on a wrong one); ``questions()``
lists every question, ``list_rules()`` every rule for the clinician-facing rules page, ``read_text`` shows what the
text reader recognised (symptoms, vital signs, age, weeks of pregnancy, clauses it could not read). A complaint with no
recognised symptom comes out ``urgent`` with the high-risk screen questions, unless it is told as lasting four weeks or
more with nothing sudden or severe (then ``routine``, never self-care). ``safety_screen_pending`` lists the safety
questions not yet answered and ``not_understood`` the parts of the text nothing was recognised in; while either is
non-empty a level below emergency is ``provisional`` (one-shot callers should ask those questions). A complaint
part of which was not understood (a part naming a body part or sense, not a reassurance) is never left at
self-care: it comes out at least ``routine`` with the follow-up questions. Every Assessment carries ``disclaimer_en/zh`` (the ESI licence requires tools built on ESI to
say that they support and never replace a clinician's judgement) and ``advice_en/zh`` for its level.
"""

from smartcare.knowledge.triage.engine import (
    DISCLAIMER_EN,
    DISCLAIMER_ZH,
    LEVEL_NAMES,
    MAX_ANSWERS,
    MAX_TEXT,
    AnswerError,
    Assessment,
    Department,
    Finding,
    PossibleCondition,
    Presentation,
    Question,
    Reason,
    RedFlag,
    assess,
    check_answers,
    context_screens,
    departments,
    questions,
    safety_screen,
)
from smartcare.knowledge.triage.rules import LEVELS, list_rules
from smartcare.knowledge.triage.text import read as read_text

__all__ = ["DISCLAIMER_EN", "DISCLAIMER_ZH", "LEVELS", "LEVEL_NAMES", "MAX_ANSWERS", "MAX_TEXT", "AnswerError",
           "Assessment", "Department", "Finding", "PossibleCondition", "Presentation", "Question", "Reason", "RedFlag",
           "assess", "check_answers", "context_screens", "departments", "list_rules", "questions", "read_text",
           "safety_screen"]
