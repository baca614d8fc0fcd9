"""The local judge for typed trivia answers: plain, pure code (no I/O, no clock, no threads).

``judge(given, answer, aliases)`` says whether a typed reply is *correct*, *close* (the player may try
again) or *incorrect*, with a short machine-ish reason. What it forgives:

* case, punctuation, diacritics, spacing, one leading article ("The Beatles" = "beatles", but "theatre"
  keeps its "the") and filler such as "I think it's ...";
* number words against digits ("seven" = "7" = "7.0", "Apollo eleven" = "Apollo 11"), optionally within
  a numeric tolerance; near numbers are *close*;
* typos, with an allowance scaled to the answer's length, weighted so that slips of the finger (neighbouring
  keys, swapped or doubled letters) count and different words do not.

What it refuses: numbers are never typo-matched ("1948" is not "1984"), a typo never lands on a different
well-known name ("Austria" is not "Australia"), very short answers need an exact match, and a reply listing
several candidates ("Paris, Rome or Madrid") is *scattershot* and incorrect even when one of them is right.
"""

from __future__ import annotations

import enum
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence

import attrs

__all__ = ["Judgement", "Verdict", "judge", "normalise", "words_to_number"]

logger = logging.getLogger(__name__)

# Replies longer than this are refused before any edit distance is computed: nobody types an essay as an
# answer, and it bounds the work done for hostile input (a 1 MB message costs one length check).
MAX_GIVEN_CHARS = 500
# Typo matching only runs on strings up to this length (the edit distance is quadratic; bank answers are at
# most 100 characters).
_MAX_TYPO_CHARS = 150
# Only this many aliases are considered, and none longer than this: a bank never needs more, and a reply of
# at most MAX_GIVEN_CHARS could not match a far longer text anyway.
_MAX_ALIASES = 50
_MAX_ACCEPTED_CHARS = 10 * MAX_GIVEN_CHARS


class Verdict(str, enum.Enum):  # noqa: UP042 - the public API is specified as a str-mixin Enum
    """How a typed answer was judged."""

    CORRECT = "correct"
    CLOSE = "close"
    INCORRECT = "incorrect"


@attrs.frozen(kw_only=True)
class Judgement:
    """A verdict with a short machine-ish reason ("exact", "typo (1 edit)", "scattershot", ...)."""

    verdict: Verdict
    reason: str


def _correct(reason: str) -> Judgement:
    return Judgement(verdict=Verdict.CORRECT, reason=reason)


def _close(reason: str) -> Judgement:
    return Judgement(verdict=Verdict.CLOSE, reason=reason)


def _incorrect(reason: str) -> Judgement:
    return Judgement(verdict=Verdict.INCORRECT, reason=reason)


# ---------------------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------------------

_ENGLISH_ARTICLES = frozenset({"the", "a", "an"})
_ARTICLES = _ENGLISH_ARTICLES | {"le", "la", "les", "el", "los", "las", "der", "die", "das"}

# Letters that NFKD leaves alone but players type without the stroke or as two letters.
_SPECIAL_LETTERS = str.maketrans(
    {"ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "\u0131": "i", "æ": "ae", "œ": "oe", "þ": "th"}
)
# Apostrophes join rather than split words, so "O'Brien" = "OBrien" and "it's" = "its".
_APOSTROPHE_RE = re.compile("['\u2019\u2018\u02bc\u02bb`\u2032]")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# Every run of non-word characters (and underscores) becomes one space, except a decimal point between
# digits, which must survive so that "3.5" is not read as "35" or as the two numbers "3 5", and a minus
# sign leading a number, so that "-40" is not "40" (but "Catch-22" is "catch 22").
_SEPARATOR_RE = re.compile(r"(?:(?!(?<=\d)\.(?=\d))(?!(?<![\w.])-(?=\d))[\W_])+")


def _fold(text: str) -> str:
    """Casefold, strip diacritics and format characters, punctuation to spaces; keep every word."""
    if not isinstance(text, str):
        return ""
    folded = text.replace("&", " and ").casefold()
    if not folded.isascii():
        folded = unicodedata.normalize("NFKD", folded)
        # Combining marks go (diacritics); format characters such as zero-width spaces join.
        folded = "".join(
            ch for ch in folded if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf"
        )
        folded = folded.translate(_SPECIAL_LETTERS)
    folded = _APOSTROPHE_RE.sub("", folded).replace("\u2212", "-")
    folded = _THOUSANDS_RE.sub("", folded)
    return _SEPARATOR_RE.sub(" ", folded).strip()


def _split_article(words: Sequence[str]) -> tuple[str | None, tuple[str, ...]]:
    """The leading article (only as a whole word, and never the only word) and the words after it."""
    if len(words) > 1 and words[0] in _ARTICLES:
        return words[0], tuple(words[1:])
    return None, tuple(words)


def normalise(text: str) -> str:
    """Casefold, strip diacritics, punctuation to spaces, collapse spaces, '&' to 'and', drop one article.

    Only a whole leading word is an article, and never the only word: "The Theatre" -> "theatre",
    "theatre" -> "theatre", "A" -> "a".
    """
    return " ".join(_split_article(_fold(text).split())[1])


# ---------------------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------------------

_UNITS = {
    "zero": 0, "nought": 0, "naught": 0, "nil": 0,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}  # fmt: skip
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_ORDINALS = {
    "zeroth": "zero", "first": "one", "second": "two", "third": "three", "fifth": "five", "eighth": "eight",
    "ninth": "nine", "twelfth": "twelve", "hundredth": "hundred",
    **{f"{word}th": word for word in ("four", "six", "seven", "ten", "eleven", *list(_TEENS)[3:])},
    **{f"{word[:-1]}ieth": word for word in _TENS},
    **{f"{word}th": word for word in _SCALES},
}  # fmt: skip
_NUMBER_WORDS = frozenset(
    {*_UNITS, *_TEENS, *_TENS, *_SCALES, *_ORDINALS, "hundred", "point", "minus", "negative"}
)
_DIGITS_RE = re.compile(r"-?\d+(?:\.\d+)?")
_DIGIT_ORDINAL_RE = re.compile(r"(\d+)(?:st|nd|rd|th)")
_PLAIN_NUMBER_RE = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")
_DECIMAL_COMMA_RE = re.compile(r"[+-]?\d+,\d{1,2}")
_ROMAN_RE = re.compile(r"(?=[ivxl])(x{0,3}|xl|l?x{0,3})(ix|iv|v?i{0,3})")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50}
# The longest run of words tried as one number; real numbers are far shorter.
_MAX_NUMBER_WORDS = 12


def _is_number_token(token: str) -> bool:
    return token in _NUMBER_WORDS or bool(_DIGITS_RE.fullmatch(token) or _DIGIT_ORDINAL_RE.fullmatch(token))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _parse_integer_words(tokens: Sequence[str]) -> float | None:
    """Standard English number words ("one hundred and five", "2 million"); None unless well-formed."""
    total = 0.0
    current = 0.0
    last = ""
    last_scale = math.inf
    for index, word in enumerate(tokens):
        if last == "a" and word != "hundred" and word not in _SCALES:
            return None
        if last == "num" and word != "hundred" and word not in _SCALES:
            return None
        if word in ("a", "an"):
            if index != 0:
                return None
            last = "a"
        elif word == "and":
            if last not in ("hundred", "scale"):
                return None
            last = "and"
        elif _DIGITS_RE.fullmatch(word):
            # Digits only lead a scale word: "2 million", "1.5 billion".
            if index != 0:
                return None
            current = float(word)
            last = "num"
        elif word in _UNITS:
            if last in ("unit", "teen"):
                return None
            current += _UNITS[word]
            last = "unit"
        elif word in _TEENS or word in _TENS:
            if last in ("unit", "teen", "tens"):
                return None
            current += _TEENS.get(word, 0) + _TENS.get(word, 0)
            last = "teen" if word in _TEENS else "tens"
        elif word == "hundred":
            if last in ("hundred", "and", "scale") or current >= 100:
                return None
            current = (current or 1) * 100
            last = "hundred"
        elif word in _SCALES:
            scale = _SCALES[word]
            if scale >= last_scale or last in ("and", "scale"):
                return None
            total += (current or 1) * scale
            current = 0.0
            last_scale = scale
            last = "scale"
        else:
            return None
    if last in ("", "a", "and"):
        return None
    return total + current


def _parse_chunk(tokens: Sequence[str], start: int) -> tuple[int, int] | None:
    """A number below 100 spelt as one or two words ("nineteen", "eighty four"): (value, next index)."""
    if start >= len(tokens):
        return None
    token = tokens[start]
    if token in _TEENS:
        return _TEENS[token], start + 1
    if token in _TENS:
        if start + 1 < len(tokens) and tokens[start + 1] in _UNITS and _UNITS[tokens[start + 1]] > 0:
            return _TENS[token] + _UNITS[tokens[start + 1]], start + 2
        return _TENS[token], start + 1
    return None


def _parse_year_words(tokens: Sequence[str]) -> float | None:
    """Years said in pairs: "nineteen eighty four" = 1984, "nineteen oh five" = 1905, "twenty twenty"."""
    first = _parse_chunk(tokens, 0)
    if first is None:
        return None
    high, index = first
    rest = tokens[index:]
    if len(rest) == 2 and rest[0] in ("oh", "o", "zero", "nought") and _UNITS.get(rest[1], 0) > 0:
        return float(high * 100 + _UNITS[rest[1]])
    second = _parse_chunk(tokens, index)
    if second is None or second[1] != len(tokens) or second[0] < 10:
        return None
    return float(high * 100 + second[0])


def _parse_tokens(tokens: Sequence[str]) -> float | None:
    """The number spelt by casefolded tokens (digits, words, ordinals, "minus", "point"), or None."""
    words = list(tokens)
    if not words or len(words) > _MAX_NUMBER_WORDS:
        return None
    sign = 1.0
    if words[0] in ("minus", "negative"):
        sign = -1.0
        words = words[1:]
    if not words:
        return None
    last = words[-1]
    ordinal = _DIGIT_ORDINAL_RE.fullmatch(last)
    if last in _ORDINALS:
        words[-1] = _ORDINALS[last]
    elif ordinal:
        words[-1] = ordinal.group(1)
    if len(words) == 1 and _DIGITS_RE.fullmatch(words[0]):
        return _finite(sign * float(words[0]))
    if "point" in words:
        # "three point one four": the digits after "point" are read one by one.
        at = words.index("point")
        whole = _parse_integer_words(words[:at]) if at else 0.0
        fraction = words[at + 1 :]
        if whole is None or not fraction or not all(word in _UNITS for word in fraction):
            return None
        return _finite(sign * float(f"{int(whole)}.{''.join(str(_UNITS[word]) for word in fraction)}"))
    value = _parse_integer_words(words)
    if value is None:
        value = _parse_year_words(words)
    return None if value is None else _finite(sign * value)


def words_to_number(text: str) -> float | None:
    """The number a short text spells, or None.

    "seven" -> 7, "twenty-one" -> 21, "one hundred and five" -> 105, "nineteen eighty-four" -> 1984,
    "1,000" -> 1000, "3.5" -> 3.5, "3,5" -> 3.5, "-40" -> -40, "7th" / "seventh" -> 7.
    """
    if not isinstance(text, str) or len(text) > 200:
        return None
    cleaned = text.strip().strip("!?").strip()
    if cleaned.endswith(".") and not cleaned.endswith(".."):
        cleaned = cleaned[:-1]
    cleaned = cleaned.replace("\u2212", "-").replace("\u2013", "-")
    # float() cannot fail on text these patterns accept.
    if _PLAIN_NUMBER_RE.fullmatch(cleaned):
        return _finite(float(cleaned.replace(",", "")))
    if _DECIMAL_COMMA_RE.fullmatch(cleaned):
        return _finite(float(cleaned.replace(",", ".")))
    if cleaned.startswith("-") and cleaned[1:2].isdigit():
        rest = words_to_number(cleaned[1:])
        return None if rest is None else -rest
    tokens = unicodedata.normalize("NFKD", cleaned.casefold()).replace("-", " ").replace(",", " ").split()
    return _parse_tokens(tokens)


def _format_number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _roman_value(token: str) -> int | None:
    if not _ROMAN_RE.fullmatch(token):
        return None
    values = [_ROMAN_VALUES[ch] for ch in token]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


# Abbreviations read as their full word on both sides, so "St Petersburg" = "Saint Petersburg".
_CANONICAL_WORDS = {"st": "saint", "mt": "mount", "ft": "fort", "dr": "doctor", "vs": "versus"}


def _prepare(words: Sequence[str]) -> tuple[str, ...]:
    """Words with numbers made canonical: runs of number words to digits, Roman numerals after a name.

    "apollo eleven" -> "apollo 11", "henry the eighth" / "henry viii" -> "henry 8", "catch twenty two" ->
    "catch 22". Applied to both sides, so it only ever makes equal things compare equal.
    """
    out: list[str] = []
    index = 0
    count = len(words)
    while index < count:
        word = words[index]
        after = words[index + 1] if index + 1 < count else ""
        if word == "the" and out and (_is_number_token(after) or _roman_value(after) is not None):
            index += 1  # "Henry the Eighth" reads as "Henry Eighth"
            continue
        starts_number = _is_number_token(word) or (word in ("a", "an") and after in ("hundred", *_SCALES))
        if starts_number and word not in ("point", "minus", "negative"):
            for end in range(min(count, index + _MAX_NUMBER_WORDS), index, -1):
                value = _parse_tokens(words[index:end])
                if value is not None:
                    out.append(_format_number(value))
                    index = end
                    break
            else:
                out.append(word)
                index += 1
            continue
        # A Roman numeral only after a word ("World War II", "Henry VIII"): a leading "I" or "X" is a word.
        roman = _roman_value(word) if out and not out[-1].isdigit() else None
        if roman is not None and (word != "i" or index == count - 1):
            out.append(str(roman))
        else:
            out.append(_CANONICAL_WORDS.get(word, word))
        index += 1
    return tuple(out)


# Units a number may carry ("7 days", "1066 AD", "100 km"), each mapped to one spelling.
_UNIT_WORDS = {
    **dict.fromkeys(("km", "kms", "kilometre", "kilometres", "kilometer", "kilometers"), "km"),
    **dict.fromkeys(("m", "metre", "metres", "meter", "meters"), "m"),
    **dict.fromkeys(("cm", "centimetre", "centimetres", "centimeter", "centimeters"), "cm"),
    **dict.fromkeys(("mm", "millimetre", "millimetres", "millimeter", "millimeters"), "mm"),
    **dict.fromkeys(("mi", "mile", "miles"), "mi"),
    **dict.fromkeys(("ft", "foot", "feet"), "ft"),
    **dict.fromkeys(("inch", "inches"), "inch"),
    **dict.fromkeys(("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"), "kg"),
    **dict.fromkeys(("g", "gram", "grams"), "g"),
    **dict.fromkeys(("lb", "lbs", "pound", "pounds"), "lb"),
    **dict.fromkeys(("l", "litre", "litres", "liter", "liters"), "l"),
    **dict.fromkeys(("year", "years", "yr", "yrs"), "year"),
    **dict.fromkeys(("day", "days"), "day"),
    **dict.fromkeys(("week", "weeks"), "week"),
    **dict.fromkeys(("month", "months"), "month"),
    **dict.fromkeys(("hour", "hours", "hr", "hrs", "h"), "hour"),
    **dict.fromkeys(("minute", "minutes", "min", "mins"), "min"),
    **dict.fromkeys(("second", "seconds", "sec", "secs", "s"), "s"),
    **dict.fromkeys(("degree", "degrees", "deg"), "degree"),
    **dict.fromkeys(("celsius", "centigrade", "c"), "c"),
    **dict.fromkeys(("fahrenheit", "f"), "f"),
    **dict.fromkeys(("percent", "pc"), "percent"),
    **dict.fromkeys(("ad", "ce"), "ad"),
    **dict.fromkeys(("bc", "bce"), "bc"),
    **dict.fromkeys(("dollar", "dollars", "usd"), "usd"),
    **dict.fromkeys(("euro", "euros", "eur"), "eur"),
    **dict.fromkeys(("mph",), "mph"),
    **dict.fromkeys(("old",), "old"),
    **dict.fromkeys(("people", "persons"), "people"),
}
# Units that only say "when": "1066" and "1066 AD" are the same answer ("BC" negates instead).
_NEUTRAL_UNITS = frozenset({"ad"})


@attrs.frozen(kw_only=True)
class _Number:
    value: float
    unit: tuple[str, ...]


def _number_of(words: Sequence[str]) -> _Number | None:
    """The number the words spell, optionally followed by up to two unit words ("7 days")."""
    value = _parse_tokens(words)
    if value is not None:
        return _Number(value=value, unit=())
    for end in range(min(len(words) - 1, _MAX_NUMBER_WORDS), 0, -1):
        value = _parse_tokens(words[:end])
        if value is None:
            continue
        rest = words[end:]
        if len(rest) <= 2 and all(word in _UNIT_WORDS for word in rest):
            unit = tuple(u for u in (_UNIT_WORDS[word] for word in rest) if u not in _NEUTRAL_UNITS)
            if unit and unit[0] == "bc":
                # 44 BC is the year -44: it must not match 44 (AD) when either side leaves the era out.
                return _Number(value=-value, unit=unit[1:])
            return _Number(value=value, unit=unit)
        return None
    return None


# ---------------------------------------------------------------------------------------------------------
# Filler, qualifiers, separators
# ---------------------------------------------------------------------------------------------------------

def _phrases(text: str) -> tuple[tuple[str, ...], ...]:
    """Comma-separated phrases as word tuples, longest first so "i think its" wins over "i think"."""
    return tuple(sorted((tuple(p.split()) for p in text.split(",") if p.strip()), key=len, reverse=True))


_FILLER_PREFIXES = _phrases(
    """the answer is, answer is, my answer is, my answer, answer, my guess is, my guess, i think its,
    i think it is, i think, i believe, i guess, i suppose, i would say, id say, i say, im pretty sure,
    im sure, i am sure, i am pretty sure, pretty sure, it is, its, it was, is it, was it, thats, that is,
    that would be, it must be, must be, it could be, could it be, could be, its gotta be, gotta be, maybe,
    perhaps, probably, possibly, surely, definitely, obviously, of course, hmm, hm, um, umm, uh, er, erm,
    ok, okay, well, oh, so, either, in, about, around, approximately, approx, roughly, circa, exactly"""
)
_FILLER_SUFFIXES = _phrases(
    """i think, i guess, i believe, i suppose, maybe, perhaps, probably, right, lol, please, for sure,
    obviously, surely, of course, isnt it, innit, i reckon, im guessing, not sure, im not sure, idk, dunno,
    i dont know, or something"""
)
# Words that carry no candidate of their own: a list piece made only of these ("not sure", "idk") is not
# a second guess.
_FILLER_WORDS = frozenset(
    {word for phrase in (*_FILLER_PREFIXES, *_FILLER_SUFFIXES) for word in phrase}
    | {"idk", "dunno", "etc", "not", "sure", "no", "idea", "know", "dont", "something", "like", "that",
       "or", "and", "the", "a", "an", "who", "knows", "yes", "yeah"}
)  # fmt: skip
# Words a player may add to the answer without changing what it names ("Mount Everest" for "Everest",
# "Planet Mars", "Sir Isaac Newton"). "City" and "Sea" are deliberately absent: "Mexico" is not
# "Mexico City".
_QUALIFIERS = frozenset(
    {"mount", "mountain", "lake", "river", "planet", "island", "isle", "ocean", "desert", "saint", "sir",
     "dame", "doctor", "professor", "prof", "mr", "mrs", "ms", "lord", "lady", "king", "queen", "prince",
     "princess", "emperor", "pope", "president", "year", "the"}
)  # fmt: skip
# Separators between listed candidates. A comma between digits is part of a number ("1,000", "3,5").
_LIST_SEPARATOR_RE = re.compile(r"[;/|\\\n\r\u2022]+|(?<!\d),|,(?!\d)")
_LIST_WORDS = frozenset({"or", "and", "nor", "versus"})


def _strip_fillers(words: Sequence[str]) -> tuple[str, ...]:
    """Drop filler phrases around the answer ("i think it's X", "X maybe"); never to nothing."""
    result = tuple(words)
    changed = True
    while changed:
        changed = False
        for phrase in _FILLER_PREFIXES:
            if len(result) > len(phrase) and result[: len(phrase)] == phrase:
                result = result[len(phrase) :]
                changed = True
                break
        for phrase in _FILLER_SUFFIXES:
            if len(result) > len(phrase) and result[-len(phrase) :] == phrase:
                result = result[: -len(phrase)]
                changed = True
                break
    return result


def _is_number_and(words: Sequence[str], index: int) -> bool:
    """Whether the "and" at ``index`` belongs to a number ("one hundred and five")."""
    before = words[index - 1] if index > 0 else ""
    after = words[index + 1] if index + 1 < len(words) else ""
    return (before == "hundred" or before in _SCALES) and after in _NUMBER_WORDS


def _list_parts(text: str) -> list[tuple[str, ...]]:
    """The pieces of a reply split at list separators (commas, "/", ";", newlines, " or ", " and ", "&")."""
    parts: list[tuple[str, ...]] = []
    for piece in _LIST_SEPARATOR_RE.split(text):
        words = _fold(piece).split()
        current: list[str] = []
        for index, word in enumerate(words):
            if word in _LIST_WORDS and not _is_number_and(words, index):
                parts.append(tuple(current))
                current = []
            else:
                current.append(word)
        parts.append(tuple(current))
    return [part for part in parts if part]


def _candidates(text: str) -> list[tuple[str, ...]]:
    """The distinct substantive candidates a reply lists, filler removed."""
    seen: list[tuple[str, ...]] = []
    for part in _list_parts(text):
        words = _strip_fillers(part)
        if all(word in _FILLER_WORDS for word in words):
            continue
        words = _split_article(words)[1]
        if words not in seen:
            seen.append(words)
    return seen


# ---------------------------------------------------------------------------------------------------------
# Well-known names: a typo must never turn one of these into a different one
# ---------------------------------------------------------------------------------------------------------

# Entries separated by commas; spellings of the same thing joined by "|".
_KNOWN_NAMES_TEXT = """
Afghanistan, Albania, Algeria, Andorra, Angola, Antigua and Barbuda, Argentina, Armenia, Australia, Austria,
Azerbaijan, Bahamas, Bahrain, Bangladesh, Barbados, Belarus, Belgium, Belize, Benin, Bhutan, Bolivia,
Bosnia and Herzegovina|Bosnia, Botswana, Brazil, Brunei, Bulgaria, Burkina Faso, Burundi, Cambodia, Cameroon,
Canada, Cape Verde|Cabo Verde, Central African Republic, Chad, Chile, China, Colombia, Comoros, Congo,
Costa Rica, Croatia, Cuba, Cyprus, Czechia|Czech Republic, Denmark, Djibouti, Dominica, Dominican Republic,
Ecuador, Egypt, El Salvador, Equatorial Guinea, Eritrea, Estonia, Eswatini|Swaziland, Ethiopia, Fiji,
Finland, France, Gabon, Gambia, Georgia, Germany, Ghana, Greece, Grenada, Guatemala, Guinea, Guinea-Bissau,
Guyana, Haiti, Honduras, Hungary, Iceland, India, Indonesia, Iran, Iraq, Ireland, Israel, Italy,
Ivory Coast|Cote d'Ivoire, Jamaica, Japan, Jordan, Kazakhstan, Kenya, Kiribati, Kosovo, Kuwait, Kyrgyzstan,
Laos, Latvia, Lebanon, Lesotho, Liberia, Libya, Liechtenstein, Lithuania, Luxembourg, Madagascar, Malawi,
Malaysia, Maldives, Mali, Malta, Marshall Islands, Mauritania, Mauritius, Mexico, Micronesia, Moldova,
Monaco, Mongolia, Montenegro, Morocco, Mozambique, Myanmar|Burma, Namibia, Nauru, Nepal,
Netherlands|Holland, New Zealand, Nicaragua, Niger, Nigeria, North Korea, South Korea, Korea,
North Macedonia|Macedonia, Norway, Oman, Pakistan, Palau, Palestine, Panama, Papua New Guinea, Paraguay,
Peru, Philippines, Poland, Portugal, Qatar, Romania, Russia, Rwanda, Saint Lucia, Samoa, San Marino,
Saudi Arabia, Senegal, Serbia, Seychelles, Sierra Leone, Singapore, Slovakia, Slovenia, Solomon Islands,
Somalia, South Africa, South Sudan, Spain, Sri Lanka, Sudan, Suriname, Sweden, Switzerland, Syria, Taiwan,
Tajikistan, Tanzania, Thailand, East Timor|Timor-Leste, Togo, Tonga, Trinidad and Tobago, Tunisia,
Turkey|Turkiye, Turkmenistan, Tuvalu, Uganda, Ukraine, United Arab Emirates|UAE,
United Kingdom|UK|Britain|Great Britain, England, Scotland, Wales, Northern Ireland,
United States|USA|US|America, Uruguay, Uzbekistan, Vanuatu, Vatican, Venezuela, Vietnam, Yemen, Zambia,
Zimbabwe, Greenland, Puerto Rico, Prussia, Persia, Siam, Ceylon, Yugoslavia, Czechoslovakia,
Kabul, Tirana, Algiers, Luanda, Buenos Aires, Yerevan, Canberra, Sydney, Melbourne, Perth, Vienna, Baku,
Nassau, Dhaka, Minsk, Brussels, Antwerp, La Paz, Sucre, Sarajevo, Brasilia, Rio de Janeiro, Sao Paulo, Sofia,
Phnom Penh, Ottawa, Toronto, Montreal, Vancouver, Quebec, Santiago, Beijing|Peking, Shanghai, Hong Kong,
Bogota, San Jose, Zagreb, Havana, Nicosia, Prague, Copenhagen, Cairo, Alexandria, Quito, Tallinn,
Addis Ababa, Helsinki, Paris, Lyon, Marseille, Nice, Tbilisi, Berlin, Bonn, Munich, Hamburg, Frankfurt,
Cologne, Accra, Athens, Budapest, Reykjavik, Delhi, New Delhi, Mumbai|Bombay, Kolkata|Calcutta,
Chennai|Madras, Jakarta, Tehran, Baghdad, Dublin, Cork, Jerusalem, Tel Aviv, Rome, Milan, Naples, Venice,
Florence, Turin, Tokyo, Kyoto, Osaka, Amman, Astana, Nairobi, Kuwait City, Bishkek, Vientiane, Riga,
Beirut, Tripoli, Vilnius, Antananarivo, Kuala Lumpur, Bamako, Valletta, Mexico City, Chisinau, Ulaanbaatar,
Podgorica, Rabat, Casablanca, Maputo, Naypyidaw, Yangon|Rangoon, Windhoek, Kathmandu, Amsterdam, Rotterdam,
The Hague|Den Haag, Wellington, Auckland, Managua, Niamey, Abuja, Lagos, Pyongyang, Seoul, Skopje, Oslo,
Muscat, Islamabad, Karachi, Lahore, Panama City, Asuncion, Lima, Manila, Warsaw, Krakow, Lisbon, Porto,
Doha, Bucharest, Moscow, Saint Petersburg, Kigali, Riyadh, Mecca, Medina, Dakar, Belgrade, Freetown,
Bratislava, Ljubljana, Mogadishu, Pretoria, Cape Town, Johannesburg, Madrid, Barcelona, Seville, Valencia,
Colombo, Khartoum, Stockholm, Bern|Berne, Zurich, Geneva, Basel, Damascus, Taipei, Dushanbe, Dodoma,
Dar es Salaam, Bangkok, Lome, Tunis, Ankara, Istanbul|Constantinople, Ashgabat, Kampala, Kyiv|Kiev,
Abu Dhabi, Dubai, London, Manchester, Liverpool, Birmingham, Leeds, Bristol, Oxford, Cambridge, York,
Edinburgh, Glasgow, Cardiff, Belfast, Washington, New York, Los Angeles, Chicago, Boston, San Francisco,
Dallas, Houston, Miami, Seattle, Detroit, Philadelphia, Atlanta, Denver, Phoenix, Las Vegas, Honolulu,
Montevideo, Tashkent, Caracas, Hanoi, Ho Chi Minh City|Saigon, Sanaa, Lusaka, Harare, Kinshasa,
Brazzaville, Yaounde, Libreville, Conakry, Monrovia, Banjul, Bissau, Nouakchott, Ouagadougou, Abidjan,
Yamoussoukro, Kingston, Port-au-Prince, Santo Domingo, Tegucigalpa, Guatemala City, San Salvador, Belmopan,
Paramaribo, Georgetown, Bridgetown, Suva, Apia, Bangalore, Hyderabad, Gdansk, Salzburg, Graz, Geneva,
Alabama, Alaska, Arizona, Arkansas, California, Colorado, Connecticut, Delaware, Florida, Hawaii, Idaho,
Illinois, Indiana, Iowa, Kansas, Kentucky, Louisiana, Maine, Maryland, Massachusetts, Michigan, Minnesota,
Mississippi, Missouri, Montana, Nebraska, Nevada, New Hampshire, New Jersey, New Mexico, North Carolina,
North Dakota, Ohio, Oklahoma, Oregon, Pennsylvania, Rhode Island, South Carolina, South Dakota, Tennessee,
Texas, Utah, Vermont, Virginia, West Virginia, Wisconsin, Wyoming,
Africa, Antarctica, Asia, Europe, North America, South America, Oceania, Australasia, Atlantic, Pacific,
Indian, Arctic, Mediterranean, Caribbean, Baltic, Sahara, Amazon, Nile, Danube, Rhine, Thames, Seine,
Mercury, Venus, Earth, Mars, Jupiter, Saturn, Uranus, Neptune, Pluto, Ceres, Eris, Moon, Sun,
Hydrogen, Helium, Lithium, Beryllium, Boron, Carbon, Nitrogen, Oxygen, Fluorine, Neon, Sodium, Magnesium,
Aluminium|Aluminum, Silicon, Phosphorus, Sulfur|Sulphur, Chlorine, Argon, Potassium, Calcium, Scandium,
Titanium, Vanadium, Chromium, Manganese, Iron, Cobalt, Nickel, Copper, Zinc, Gallium, Germanium, Arsenic,
Selenium, Bromine, Krypton, Rubidium, Strontium, Yttrium, Zirconium, Niobium, Molybdenum, Technetium,
Ruthenium, Rhodium, Palladium, Silver, Cadmium, Indium, Tin, Antimony, Tellurium, Iodine, Xenon,
Caesium|Cesium, Barium, Lanthanum, Cerium, Praseodymium, Neodymium, Promethium, Samarium, Europium,
Gadolinium, Terbium, Dysprosium, Holmium, Erbium, Thulium, Ytterbium, Lutetium, Hafnium, Tantalum,
Tungsten, Rhenium, Osmium, Iridium, Platinum, Gold, Thallium, Lead, Bismuth, Polonium, Astatine, Radon,
Francium, Radium, Actinium, Thorium, Protactinium, Uranium, Neptunium, Plutonium, Americium, Curium,
Berkelium, Californium, Einsteinium, Fermium, Mendelevium, Nobelium, Lawrencium, Rutherfordium, Dubnium,
Seaborgium, Bohrium, Hassium, Meitnerium, Darmstadtium, Roentgenium, Copernicium, Nihonium, Flerovium,
Moscovium, Livermorium, Tennessine, Oganesson,
January, February, March, April, May, June, July, August, September, October, November, December,
Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday
"""


def _known_names() -> dict[str, int]:
    names: dict[str, int] = {}
    for group, entry in enumerate(_KNOWN_NAMES_TEXT.split(",")):
        for spelling in entry.split("|"):
            key = normalise(spelling)
            if key:
                names.setdefault(key, group)
    return names


_KNOWN_NAMES = _known_names()


# ---------------------------------------------------------------------------------------------------------
# Typo distance
# ---------------------------------------------------------------------------------------------------------

_VOWELS = frozenset("aeiou")
# Sounds players confuse when spelling: these substitutions count as ordinary typos.
_PHONETIC = frozenset(frozenset(pair) for pair in ("ck", "cs", "sz", "kq", "iy", "gj"))


def _keyboard_neighbours() -> frozenset[frozenset[str]]:
    rows = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
    pairs: set[frozenset[str]] = set()
    for r, row in enumerate(rows):
        for c, key in enumerate(row):
            if c + 1 < len(row):
                pairs.add(frozenset((key, row[c + 1])))
            if r + 1 < len(rows):
                # QWERTY is staggered: a key touches the key below it and the one below-left.
                for below in (c - 1, c):
                    if 0 <= below < len(rows[r + 1]):
                        pairs.add(frozenset((key, rows[r + 1][below])))
    return frozenset(pairs)


_NEIGHBOURS = _keyboard_neighbours()


def _substitution_cost(typed: str, wanted: str, word_len: int, *, word_start: bool) -> float:
    """A slip onto a neighbouring key or a like sound costs 1; other swaps cost more, a word's first
    letter more again (people rarely mistype it), a digit so much that numbers never typo-match."""
    if typed == wanted:
        return 0.0
    if typed.isdigit() or wanted.isdigit():
        return 3.0
    if typed == " " or wanted == " ":
        return 1.5
    pair = frozenset((typed, wanted))
    cheap = pair in _NEIGHBOURS or pair in _PHONETIC or (pair <= _VOWELS and word_len >= 5)
    return (1.0 if cheap else 1.5) + (1.0 if word_start else 0.0)


def _indel_cost(text: str, index: int) -> float:
    """Cost of the character at ``index`` being missing (or extra): doubled letters and spaces are cheap."""
    char = text[index]
    if char == " ":
        return 0.5
    if char.isdigit():
        return 3.0
    if (index > 0 and text[index - 1] == char) or (index + 1 < len(text) and text[index + 1] == char):
        return 0.5
    return 1.0


def _typo_distance(typed: str, wanted: str, limit: float) -> tuple[float, int]:
    """Weighted optimal-string-alignment distance and the number of edits; (inf, 0) once over ``limit``."""
    n, m = len(typed), len(wanted)
    word_len = len(wanted)
    starts = [j == 0 or wanted[j - 1] == " " for j in range(m)]
    # A missing or extra letter at the start of a word is rarely a typo ("atre" is not "theatre").
    ins = [_indel_cost(wanted, j) + (0.5 if starts[j] else 0.0) for j in range(m)]
    dels = [_indel_cost(typed, i) + (0.5 if i == 0 or typed[i - 1] == " " else 0.0) for i in range(n)]
    # Rows of (cost, edits), kept two back for transpositions.
    before: list[tuple[float, int]] = []
    prev: list[tuple[float, int]] = [(0.0, 0)]
    for j in range(m):
        prev.append((prev[-1][0] + ins[j], prev[-1][1] + 1))
    for i in range(1, n + 1):
        row: list[tuple[float, int]] = [(prev[0][0] + dels[i - 1], prev[0][1] + 1)]
        for j in range(1, m + 1):
            up, left, diag = prev[j], row[j - 1], prev[j - 1]
            sub = _substitution_cost(typed[i - 1], wanted[j - 1], word_len, word_start=starts[j - 1])
            best = min(
                (up[0] + dels[i - 1], up[1] + 1),
                (left[0] + ins[j - 1], left[1] + 1),
                (diag[0] + sub, diag[1] + (sub > 0)),
            )
            if (
                i > 1
                and j > 1
                and typed[i - 1] == wanted[j - 2]
                and typed[i - 2] == wanted[j - 1]
                and typed[i - 1] != typed[i - 2]
            ):
                swap = before[j - 2]
                cost = 3.0 if typed[i - 1].isdigit() or typed[i - 2].isdigit() else 1.0
                best = min(best, (swap[0] + cost, swap[1] + 1))
            row.append(best)
        if min(cell[0] for cell in row) > limit:
            return math.inf, 0
        before, prev = prev, row
    return prev[m]


def _allowance(length: int) -> int:
    """Edits forgiven for an answer of this normalised length: none up to 3 characters, then 1, 2, 3+."""
    if length <= 3:
        return 0
    if length <= 5:
        return 1
    if length <= 9:
        return 2
    return max(3, round(length * 0.2))


def _close_band(length: int) -> float:
    """Beyond the allowance but within this is "close": one edit more, or up to 35% of the length."""
    return max(_allowance(length) + 1.0, 0.35 * length)


def _plural(count: int) -> str:
    return f"{count} edit" if count == 1 else f"{count} edits"


# ---------------------------------------------------------------------------------------------------------
# Judging
# ---------------------------------------------------------------------------------------------------------

_Words = tuple[str, ...]


@attrs.frozen(kw_only=True)
class _Form:
    """One reading of a text: folded words, with and without a leading article, plain and prepared."""

    article: str | None
    plain_full: _Words
    plain_bare: _Words
    full: _Words
    bare: _Words

    @classmethod
    def of(cls, words: Sequence[str]) -> _Form:
        article, rest = _split_article(words)
        plain = tuple(words)
        prepared = _prepare(plain)
        return cls(
            article=article,
            plain_full=plain,
            plain_bare=rest,
            full=prepared,
            bare=prepared if article is None else _prepare(rest),
        )


def _pairs(given: _Form, accepted: _Form) -> Iterable[tuple[_Words, _Words, _Words, _Words]]:
    """(given plain, accepted plain, given prepared, accepted prepared) word pairs worth comparing.

    With and without the leading article; but a foreign article only counts when both sides drop the same
    one, so "Hard" is not "Die Hard" and "Angeles" is not "Los Angeles".
    """
    yield given.plain_full, accepted.plain_full, given.full, accepted.full
    articles = {given.article, accepted.article} - {None}
    if given.article == accepted.article or articles <= _ENGLISH_ARTICLES:
        yield given.plain_bare, accepted.plain_bare, given.bare, accepted.bare


@attrs.frozen(kw_only=True)
class _Accepted:
    form: _Form
    is_alias: bool
    number: _Number | None
    candidates: int  # how many list pieces the answer itself has ("Romeo and Juliet": 2)
    known: int | None


def _accepted(answer: str, aliases: Sequence[str]) -> list[_Accepted]:
    out: list[_Accepted] = []
    texts = [(answer, False)] + [(alias, True) for alias in list(aliases)[:_MAX_ALIASES]]
    for text, is_alias in texts:
        if not isinstance(text, str) or len(text) > _MAX_ACCEPTED_CHARS:
            continue
        words = _fold(text).split()
        if not words:
            continue
        form = _Form.of(words)
        number = _number_of(form.plain_bare)
        direct = words_to_number(text)
        if direct is not None:
            number = _Number(value=direct, unit=())
        out.append(
            _Accepted(
                form=form,
                is_alias=is_alias,
                number=number,
                candidates=len(_candidates(text)),
                known=_KNOWN_NAMES.get(" ".join(form.plain_bare)),
            )
        )
    return out


def _given_forms(words: Sequence[str]) -> list[_Form]:
    forms = [_Form.of(words)]
    stripped = _strip_fillers(words)
    if stripped != tuple(words):
        forms.append(_Form.of(stripped))
        # "it's the Beatles": the article after the filler goes too (handled by _Form), and so does a
        # second round of filler behind it ("I think it's maybe Paris").
        again = _strip_fillers(_split_article(stripped)[1])
        if again != _split_article(stripped)[1]:
            forms.append(_Form.of(again))
    return forms


def _exact(given: _Form, accepted: _Accepted) -> Judgement | None:
    plain_reason = "alias" if accepted.is_alias else "exact"
    for g_plain, a_plain, g_prep, a_prep in _pairs(given, accepted.form):
        if g_plain == a_plain:
            return _correct(plain_reason)
        if g_prep == a_prep:
            has_number = any(word.isdigit() or _DIGITS_RE.fullmatch(word) for word in a_prep)
            return _correct("number match" if has_number else plain_reason)
        g_joined, a_joined = " ".join(g_prep), " ".join(a_prep)
        # Spacing differences ("Spider-Man" / "spiderman"), but never by gluing digits: "3 5" is not "35".
        if (
            g_joined.replace(" ", "") == a_joined.replace(" ", "")
            and not re.search(r"\d \d", g_joined)
            and not re.search(r"\d \d", a_joined)
        ):
            return _correct("spacing")
    return None


def _valid_tolerance(tolerance: object) -> float:
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
        return 0.0
    value = float(tolerance)
    return value if math.isfinite(value) and value > 0 else 0.0


def _compare_numbers(given: _Number, accepted: _Number, tolerance: float) -> Judgement:
    if given.unit and accepted.unit and given.unit != accepted.unit:
        return _incorrect("wrong unit")
    diff = abs(given.value - accepted.value)
    epsilon = 1e-9 * max(1.0, abs(accepted.value))
    if diff <= epsilon:
        return _correct("number match")
    if diff <= tolerance + epsilon:
        return _correct("within tolerance")
    # Years are near only within two (1983 for 1984), never by percentage: 1948 is not near 1984.
    is_year = accepted.value.is_integer() and 1000 <= accepted.value <= 2100
    band = tolerance + (2.0 if is_year else 0.1 * abs(accepted.value))
    if diff <= band + epsilon:
        return _close("number near")
    return _incorrect("wrong number")


def _given_number(text: str, forms: Sequence[_Form]) -> _Number | None:
    direct = words_to_number(text)
    if direct is not None:
        return _Number(value=direct, unit=())
    for form in forms:
        for words in (form.plain_bare, tuple(w for w in form.plain_bare if w not in _QUALIFIERS)):
            number = _number_of(words)
            if number is not None:
                return number
    return None


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    size = len(needle)
    return 0 < size <= len(haystack) and any(
        tuple(haystack[i : i + size]) == tuple(needle) for i in range(len(haystack) - size + 1)
    )


def _without_qualifiers(given: _Words, accepted: _Words) -> _Words | None:
    """The given words without qualifiers the answer lacks ("mount everest" -> "everest"), if any."""
    kept = tuple(word for word in given if word not in _QUALIFIERS or word in accepted)
    return kept if kept and kept != given else None


def _typo(given: _Words, accepted: _Accepted, wanted: _Words, typed_plain: _Words) -> Judgement | None:
    """Correct, close or "near miss" for a reply within typo distance of ``wanted``; None when far."""
    typed_text, wanted_text = " ".join(given), " ".join(wanted)
    length = len(wanted_text)
    # Below three characters nothing is near: "Fe" is not almost "Fr".
    if not typed_text or length < 3 or length > _MAX_TYPO_CHARS or len(typed_text) > _MAX_TYPO_CHARS:
        return None
    allowance, band = _allowance(length), _close_band(length)
    if abs(len(typed_text) - length) > band:
        return None
    if len(given) == len(wanted) > 1:
        # Word by word, so one word cannot soak up the whole allowance: "Kill Will" is not "Kill Bill".
        results = [_typo_distance(g, w, band) for g, w in zip(given, wanted, strict=True)]
        cost = sum(result[0] for result in results)
        edits = sum(result[1] for result in results)
        per_word_ok = all(
            result[0] <= max(1, _allowance(len(w))) for result, w in zip(results, wanted, strict=True)
        )
    else:
        cost, edits = _typo_distance(typed_text, wanted_text, band)
        per_word_ok = True
    if cost > band or edits == 0:
        return None
    known = _KNOWN_NAMES.get(" ".join(_split_article(typed_plain)[1]))
    if _DIGITS_RE.findall(typed_text) != _DIGITS_RE.findall(wanted_text) or (
        known is not None and known != accepted.known
    ):
        return _incorrect("near miss")
    if cost <= allowance and per_word_ok:
        return _correct(f"typo ({_plural(edits)})")
    return _close(f"misspelt ({_plural(edits)})")


def _partial(given: _Form, accepted: _Accepted) -> Judgement | None:
    """A reply naming part of a multi-word answer ("Armstrong" for "Neil Armstrong") may try again."""
    wanted = accepted.form.full
    typed = given.bare
    if not 0 < len(typed) < len(wanted) or not _contains(wanted, typed):
        return None
    if all(word in _QUALIFIERS or word in _ARTICLES for word in typed):
        return None
    start = next(i for i in range(len(wanted)) if wanted[i : i + len(typed)] == typed)
    missing = wanted[:start] + wanted[start + len(typed) :]
    coverage = len("".join(typed)) / len("".join(wanted))
    if coverage < 0.5 and not all(word in _QUALIFIERS or word in _ARTICLES for word in missing):
        return None
    known = _KNOWN_NAMES.get(" ".join(given.plain_bare))
    if known is not None and known != accepted.known:
        return _incorrect("near miss")  # "Sudan" is not part of "South Sudan", nor "York" of "New York"
    return _close("partial")


def _extra_words(given: _Form, accepted: _Accepted) -> Judgement | None:
    """A reply holding the answer plus other words is not the answer ("Paris France", "the capital is
    Paris"); but one leading word before a one-word answer is most likely a first name ("Isaac Newton" for
    "Newton"), so that player may try again, unless the word is itself a well-known name or a number
    ("Rome Paris" is two guesses)."""
    typed, wanted = given.bare, accepted.form.bare
    if len(typed) <= len(wanted) or not _contains(typed, wanted):
        return None
    first = typed[0]
    if (
        len(wanted) == 1
        and len(typed) == 2
        and typed[1] == wanted[0]
        and first not in _KNOWN_NAMES
        and first not in _FILLER_WORDS  # "not Paris" is no first name
        and not _is_number_token(first)
        and accepted.number is None
    ):
        return _close("extra words")
    return _incorrect("extra words")


_RANK = {Verdict.CORRECT: 0, Verdict.CLOSE: 1, Verdict.INCORRECT: 2}
_INCORRECT_RANK = {"wrong unit": 0, "near miss": 1, "wrong number": 2, "extra words": 3}


def _better(current: Judgement | None, new: Judgement | None) -> Judgement | None:
    if new is None:
        return current
    if current is None:
        return new
    key_new = (_RANK[new.verdict], _INCORRECT_RANK.get(new.reason, 9))
    key_current = (_RANK[current.verdict], _INCORRECT_RANK.get(current.reason, 9))
    return new if key_new < key_current else current


def _match_words(
    forms: Sequence[_Form], accepted: Sequence[_Accepted], tolerance: float, number: _Number | None
) -> Judgement | None:
    """The best judgement of one reply (already known not to be a list), or None when nothing is near."""
    best: Judgement | None = None
    for acc in accepted:
        for form in forms:
            found = _exact(form, acc)
            if found is not None:
                return found
    for acc in accepted:
        if acc.number is not None and number is not None:
            best = _better(best, _compare_numbers(number, acc.number, tolerance))
            if best is not None and best.verdict is Verdict.CORRECT:
                return best
    if best is not None:
        return best  # a number was given for a number: numbers are never typo-matched
    for acc in accepted:
        for form in forms:
            for _, _, g_prep, a_prep in _pairs(form, acc.form):
                qualified = _without_qualifiers(g_prep, a_prep)
                if qualified is not None and qualified == a_prep:
                    return _correct("qualifier")
                if acc.number is not None:
                    continue  # numeric answers are never typo-matched
                for typed in (g_prep, qualified):
                    if typed is not None:
                        best = _better(best, _typo(typed, acc, a_prep, form.plain_full))
                        if best is not None and best.verdict is Verdict.CORRECT:
                            return best
    return best


def _judge(given: str, answer: str, aliases: Sequence[str], tolerance: float) -> Judgement:
    if not isinstance(given, str):
        given = ""
    if len(given) > MAX_GIVEN_CHARS:
        return _incorrect("too long")
    words = _fold(given).split()
    if not words:
        return _incorrect("empty")
    if isinstance(aliases, str):
        aliases = (aliases,)  # a lone alias passed as a string is one alias, not one per letter
    accepted = _accepted(answer, aliases)
    if not accepted:
        return _incorrect("no match")
    forms = _given_forms(words)
    candidates = _candidates(given)
    if len(candidates) == 1 and len(_list_parts(given)) > 1:
        forms.append(_Form.of(candidates[0]))  # "Paris, not sure": the other pieces are only filler

    # Whole reply first, so an answer that itself holds "and", "&", "/" or a comma still matches.
    for acc in accepted:
        for form in forms:
            found = _exact(form, acc)
            if found is not None:
                return found
    number = _given_number(given, forms) if any(acc.number is not None for acc in accepted) else None
    if number is not None:
        found = _match_words(forms, accepted, tolerance, number)
        if found is not None:
            return found

    # Several candidates: wrong even when one is right, unless every one of them is right.
    if len(candidates) > 1 and not any(acc.candidates == len(candidates) for acc in accepted):
        verdicts = [
            _match_words([_Form.of(candidate)], accepted, tolerance, _number_of(candidate))
            for candidate in candidates
        ]
        first = verdicts[0]
        if first is not None and all(v is not None and v.verdict is Verdict.CORRECT for v in verdicts):
            return first  # "Paris / Paree" with both accepted: every candidate is right
        return _incorrect("scattershot")

    # An essay that mentions the answer somewhere is not an answer.
    core = forms[-1].bare
    longest = max(len(acc.form.full) for acc in accepted)
    if len(core) > 3 * longest + 3:
        contains = any(_contains(core, acc.form.bare) for acc in accepted)
        return _incorrect("scattershot" if contains else "no match")

    best = _match_words(forms, accepted, tolerance, number)
    if best is not None and best.verdict is not Verdict.INCORRECT:
        return best
    for acc in accepted:
        if acc.number is not None:
            continue
        for form in forms:
            best = _better(best, _partial(form, acc))
    for acc in accepted:
        for form in forms:
            best = _better(best, _extra_words(form, acc))
    return best if best is not None else _incorrect("no match")


def judge(
    given: str, answer: str, aliases: Sequence[str] = (), *, numeric_tolerance: float | None = None,
    context: str = "a reply",
) -> Judgement:
    """Judge a typed reply against the answer and its aliases; never raises.

    ``numeric_tolerance`` applies when the answer is a number: a reply within it is correct, one a little
    further off (10%, or 2 for a year) is close. A bug in the judge is logged with ``context`` (which reply:
    the game and request ids in the worker) and the reply judged incorrect, reason "internal error".
    """
    try:
        return _judge(given, answer, aliases, _valid_tolerance(numeric_tolerance))
    except Exception:  # a judge in a live game must answer, whatever the input; the bug must still be seen
        logger.exception("judge: internal error judging %s; it is judged incorrect", context)
        return _incorrect("internal error")
