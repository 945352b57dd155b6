"""Is a final answer supported by what the tools returned? A pure check over a finished run.

No model call, no I/O: the final answer is split into *claims* and each claim must be found in
the question or in an observation (or a Calculator result):

- **numbers** (thousands separators, decimals, ``3.36e8``, ``million``/``billion``, Korean
  만/억/조, percent, negative numbers, years) are supported by an evidence number within the
  precision the answer shows: "336" covers 336.26, "336 million" covers 335,893,238, "340" covers
  336 (trailing zeros are rounding when two significant digits remain), a hedge ("about", "약")
  widens that to 2 %; a percent also matches its fraction (30 % ↔ 0.3). A Calculator result is
  evidence only when every number of its input is itself supported (the question, an earlier
  observation, or a small constant such as 100), so arithmetic cannot launder an unsupported number;
  a Calculator result also supports its absolute value (a difference is stated as "N more than").
  For Calculator inputs an evidence number also stands as written before its scale word ("480
  million dollars" is the 480 of ``abs(480 - 350)``) and a percent as the factor it adds or takes
  off (10 % tax: ``* 1.1``).
- **names**: capitalised spans ("Papua New Guinea", "XCD", "Joe Biden"), quoted strings and
  non-Latin words (Hangul, kana, CJK, Cyrillic, ...) that are not in the question must occur in an
  observation (accents, case and punctuation ignored; Korean particles stripped; Korean field, unit
  and total words such as 인구, 면적, 제곱킬로미터, 합치면 are not names). A name counts as the
  question's own only where the question uses it on its own: "Mexico" in "Mexico City is the capital
  of which country?" and "Bissau" in "the Guinea-Bissau capital" are claims of the answer. A
  capitalised plain word that starts a sentence is no part of a name when the whole span is not found
  and the word is in neither the question nor an observation ("Together Lithuania and Burundi have
  ..." checks "Lithuania and Burundi") when what is left is the question's own names; place-name
  prefixes such as "North" or "New" stay.

Country records of the local knowledge pack (``agent.knowledge.country_document``: "Japan: capital
Tokyo; population 126,960,000; ...") are read per field, so that a record supports a claim only
when it is *about what was asked*:

- the record's country is named in the question or in the search query that returned it, and the
  question does not instead name that record's capital ("population of Tokyo" is not answered by
  Japan's record; "Mexico City" is not "Mexico");
- the field holding the claim is what the question asks about ("the GDP of Brazil is 211 million"
  finds 211 million in the *population* field and is unsupported; so is "The population of Japan is
  127,080,000." as the answer to a question about life expectancy: the answer's own words do not count);
- a record that is not about what was asked still supports its own title when the question asks
  for a country and names one of the record's values: "Which country has the capital Canberra?" →
  "Australia", "what country is Luxembourg the capital of" → "Luxembourg is the capital of
  Luxembourg." (a reverse lookup); "Who is the mayor of Mexico City?" → "Mexico" is not.

An answer with no claim of its own (everything in it is in the question) needs at least one useful
observation, and if it only restates the question (Korean words compared by their stems) it must
be a yes/no or a choice among the question's options ("Which of Chad, Mali and Niger ...?" →
"Niger has the largest population.": it names some of the question's names, not all). A "not
found" answer (``agent.prompt.NOT_FOUND_ANSWER`` and looser variants, English and Korean) is
recognised first and claims nothing.

With ``every_word=True`` (the loop's default, ``QREACT_GROUNDING_EVERY_WORD``) the document step asks the sentence
that holds a value to state every asked word (``documents.states_every_attribute``: the answer's type word and degree
words excepted; title words, stems, irregular verb forms, unit abbreviations count) and the year the question names.

With ``attributes=True`` (the loop's default, ``QREACT_GROUNDING_ATTRIBUTES``) an answer that repeats an asked
word no prose observation holds ("a cappuccino costs 6 dollars" over a bakery's document without a cappuccino),
or that counts a document's number as another thing ("75 bicycles" from "75 stations"), is unsupported, and a
Korean field word of one syllable asks for its field only at a word's start (수명 is no 인구 question).
Both steps read a question that writes no name in capitals ("how wide is alder lake") with the entity an
observation spells as a name (``documents.run_entities``: a document's title, two or more of its first words,
a capitalised span of two or more words). A yes/no answer is "yes", "no" ... as a whole word: "Norway ...",
"nova mobile was founded ..." and "네팔의 ..." are checked as any answer; a question that asks for a quantity or a
date ("how many ... between Dalby and Port Ellen") is no choice among its names. With ``attributes=True`` a question
whose first wh-word is "who" or "where" needs an answer that names someone or somewhere the question does not
("Tell me where Dr. Amina Sato was born." -> "... born in 1979." is unsupported).

Rules of session 16 (with ``every_word``): a question that asks a price, a cost, a fare, a fee, a time, a date, a
year or a "number of" needs an answer with a value the question does not hold, a choice among its options excepted
("tell me the price of the 18 year old" -> "The answer is 18." is unsupported; rule G19a); a question that asks no
computation (``operations.asks_computation``: no operation, rate, span, conversion, hypothetical or amount earned)
is not answered by a Calculator result whose inputs no sentence about what was asked states ("What does a night in
a private room cost?" -> ``38 * 22``: the adult's and the child's dormitory prices; rule G19b); and a document's
title may hold a colon, and a result that continues a document ("Title: ..." without its heading) is a document of
its own (rule G19d). A charge or a rate asked is a price too (rule G20a), and a question whose entity no title
phrase of the run gives ("who owns the pellbridge ice cream parlour") is answered only from a document whose title's
first word it writes (rule G20b: "Sunita Castellow" from Lendrum Street Launderette's document is unsupported).

Beside the check, ``read_count`` (rule G16; the loop's ``read_counts``) reads the count a "how many X" question asks
from a document about the asked entity ("Pinecrest Farm: 12 goats."), and ``read_person`` (rule G17b, ``read_roles``,
off by default) the name a "who" question asks, for a run that ends not-found or unsupported (``read_documents``).

The package, one job a module: ``text`` (normalising), ``not_found`` (the not-found answer, an
empty observation), ``numbers`` (number claims and evidence values), ``records`` (country records
field by field, the evidence segments of a run), ``names`` (name claims), ``documents`` (the document
step), ``attributes`` (the attribute step), ``operations`` (the computation step), ``model`` (``Grounding``,
``Observation``) and ``verdict`` (``check``).
"""

from agent.grounding.documents import DocumentReading, read_count, read_documents, read_person
from agent.grounding.model import Grounding, Observation
from agent.grounding.names import NameClaim, name_claims
from agent.grounding.not_found import is_not_found, is_useless_observation
from agent.grounding.numbers import NumberClaim, parse_numbers
from agent.grounding.records import FIELD_WORDS, RECORD_FIELDS, names_country
from agent.grounding.text import LOCAL_PREFIX, NO_RESULTS, normalize
from agent.grounding.verdict import check

__all__ = [
    "FIELD_WORDS",
    "LOCAL_PREFIX",
    "NO_RESULTS",
    "RECORD_FIELDS",
    "DocumentReading",
    "Grounding",
    "NameClaim",
    "NumberClaim",
    "Observation",
    "check",
    "is_not_found",
    "is_useless_observation",
    "name_claims",
    "names_country",
    "normalize",
    "parse_numbers",
    "read_count",
    "read_documents",
    "read_person",
]
