"""RFC 3261 / RFC 3966 grammar turned into regular expressions, shared by the message layer.

In the style of h11's ``_abnf.py``: every ABNF rule the message layer needs is written once here as a
regex *string* named after the rule, and the few compiled patterns used on hot paths are built at import
time. Callers use ``fullmatch`` so a pattern never accepts a prefix by accident.

Conventions:

* Patterns run on ``str`` values that were decoded from UTF-8 and **unfolded** (every ``CRLF 1*WSP`` was
  replaced by one SP before any rule runs), so ``LWS`` is just ``1*WSP`` and ``SWS`` is ``*WSP``.
* ``UTF8-NONASCII`` becomes "any code point above U+007F".
* No pattern contains nested unbounded quantifiers that could backtrack badly on hostile input; the
  hypothesis fuzz test (tests/unit/test_parser_properties.py) keeps that honest.
"""

from __future__ import annotations

import re

__all__: list[str] = []  # private module: nothing is re-exported

# --- RFC 5234 core rules --------------------------------------------------------------------------------
DIGIT = r"[0-9]"
ALPHA = r"[A-Za-z]"
ALPHANUM = r"[A-Za-z0-9]"
HEXDIG = r"[0-9A-Fa-f]"
WSP = r"[ \t]"
LWS = r"[ \t]+"  # after unfolding
SWS = r"[ \t]*"  # after unfolding
UTF8_NONASCII = r"[^\x00-\x7f]"

# --- RFC 3261 §25.1 basic rules -------------------------------------------------------------------------
MARK = r"[\-_.!~*'()]"
UNRESERVED_CHARS = r"A-Za-z0-9\-_.!~*'()"
UNRESERVED = rf"[{UNRESERVED_CHARS}]"
ESCAPED = rf"%{HEXDIG}{HEXDIG}"
TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
TOKEN = rf"[{TOKEN_CHARS}]++"
WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
# qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII ; quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
# A quoted-pair may escape any ASCII character but CR and LF, control characters included (RFC 4475
# §3.1.1.2 escapes BEL, NUL and DEL in a display name); those are the only control characters a header
# section may carry (see QUOTED_CONTROLS_RE).
QDTEXT = r"[ \t\x21\x23-\x5b\x5d-\x7e\x80-\U0010ffff]"
QUOTED_PAIR = r"\\[\x00-\x09\x0b\x0c\x0e-\x7f]"
QUOTED_STRING = rf'"(?:{QDTEXT}|{QUOTED_PAIR})*+"'

SEMI = rf"{SWS};{SWS}"
EQUAL = rf"{SWS}={SWS}"
COMMA = rf"{SWS},{SWS}"
SLASH = rf"{SWS}/{SWS}"
COLON = rf"{SWS}:{SWS}"

# --- hosts (RFC 3261 §25.1, IPv6 per RFC 3986 §3.2.2 and RFC 5118 §4.10) -------------------------------
DOMAINLABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
TOPLABEL = r"[A-Za-z](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
HOSTNAME = rf"(?:{DOMAINLABEL}\.)*{TOPLABEL}\.?"
_DEC_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])"
IPV4ADDRESS = rf"{_DEC_OCTET}\.{_DEC_OCTET}\.{_DEC_OCTET}\.{_DEC_OCTET}"
_H16 = r"[0-9A-Fa-f]{1,4}"
_LS32 = rf"(?:{_H16}:{_H16}|{IPV4ADDRESS})"
IPV6ADDRESS = (
    r"(?:"
    rf"(?:{_H16}:){{6}}{_LS32}"
    rf"|::(?:{_H16}:){{5}}{_LS32}"
    rf"|(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}"
    rf"|(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}"
    rf"|(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}"
    rf"|(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}"
    rf"|(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}"
    rf"|(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}"
    rf"|(?:(?:{_H16}:){{0,6}}{_H16})?::"
    # RFC 3261's own ABNF (hexpart ":" IPv4address) also yields "2001:db8:::192.0.2.1", three colons
    # before the IPv4 part; RFC 5118 §4.10: "an implementation must tolerate both" of the forms.
    rf"|(?:(?:{_H16}:){{0,4}}{_H16})?:::{IPV4ADDRESS}"
    r")"
)
IPV6REFERENCE = rf"\[{IPV6ADDRESS}\]"
HOST = rf"(?:{IPV4ADDRESS}|{HOSTNAME}|{IPV6REFERENCE})"
PORT = r"[0-9]{1,5}"

# --- SIP-URI (RFC 3261 §19.1.1 / §25.1) ------------------------------------------------------------------
USER_CHARS = UNRESERVED_CHARS + r"&=+$,;?/"
USER = rf"(?:[{USER_CHARS}]|{ESCAPED})++"
PASSWORD_CHARS = UNRESERVED_CHARS + r"&=+$,"
PASSWORD = rf"(?:[{PASSWORD_CHARS}]|{ESCAPED})*+"
PARAM_CHARS = UNRESERVED_CHARS + r"\[\]/:&+$"
PARAMCHAR = rf"(?:[{PARAM_CHARS}]|{ESCAPED})"
URI_PARAMETER = rf";{PARAMCHAR}++(?:={PARAMCHAR}++)?"
HNV_CHARS = UNRESERVED_CHARS + r"\[\]/?:+$"
HNAME = rf"(?:[{HNV_CHARS}]|{ESCAPED})++"
HVALUE = rf"(?:[{HNV_CHARS}]|{ESCAPED})*+"
URI_HEADER = rf"{HNAME}={HVALUE}"
SIP_URI = (
    r"(?P<scheme>(?i:sips?)):"
    rf"(?:(?P<user>{USER})(?::(?P<password>{PASSWORD}))?@)?"
    rf"(?P<host>{HOST})(?::(?P<port>{PORT}))?"
    rf"(?P<params>(?:{URI_PARAMETER})*+)"
    rf"(?:\?(?P<headers>{URI_HEADER}(?:&{URI_HEADER})*+))?"
)

# --- absoluteURI (RFC 2396 as referenced by RFC 3261) ----------------------------------------------------
SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
# uric = reserved / unreserved / escaped; "[" and "]" are accepted too (RFC 2732 / 3986 hosts).
URIC_CHARS = UNRESERVED_CHARS + r";/?:@&=+$,\[\]"
ABSOLUTE_URI = rf"(?P<scheme>{SCHEME}):(?P<rest>(?:[{URIC_CHARS}]|{ESCAPED})++)"

# --- tel: URI (RFC 3966 §3) ------------------------------------------------------------------------------
VISUAL_SEPARATOR = r"[\-.()]"
# "*phonedigit DIGIT *phonedigit" written so that only one split is possible (leading separators, the
# first digit, then anything): the literal ABNF backtracks quadratically on a long non-matching input.
GLOBAL_NUMBER_DIGITS = r"\+[\-.()]*+[0-9][0-9\-.()]*+"
LOCAL_NUMBER_DIGITS = r"[\-.()]*+[0-9A-Fa-f*#][0-9A-Fa-f*#\-.()]*+"
TEL_PNAME = r"[A-Za-z0-9\-]+"
TEL_PARAM_CHARS = UNRESERVED_CHARS + r"\[\]/:&+$"
TEL_PVALUE = rf"(?:[{TEL_PARAM_CHARS}]|{ESCAPED})+"
TEL_PARAMETER = rf";{TEL_PNAME}(?:={TEL_PVALUE})?"
TEL_URI = (
    rf"(?i:tel):(?P<number>{GLOBAL_NUMBER_DIGITS}|{LOCAL_NUMBER_DIGITS})(?P<params>(?:{TEL_PARAMETER})*+)"
)

# --- header parameters and header values (RFC 3261 §25.1) ----------------------------------------------
# gen-value = token / host / quoted-string.  A hostname and an IPv4 address are made of token characters;
# the IPv6 forms are listed explicitly (RFC 3261's via-received uses an *unbracketed* IPv6address).
GEN_VALUE = rf"(?:{TOKEN}|{IPV6REFERENCE}|{IPV6ADDRESS}|{QUOTED_STRING})"
GENERIC_PARAM = rf"{TOKEN}(?:{EQUAL}{GEN_VALUE})?"
# Not possessive: a value such as an unbracketed IPv6address must be able to backtrack out of the token
# alternative.  Every alternative is delimited, so backtracking stays linear.
HEADER_PARAMS = rf"(?:{SEMI}{GENERIC_PARAM})*"
# The same with groups, for extraction with findall once HEADER_PARAMS matched the whole text; the
# look-ahead makes each value end on a parameter boundary, so the split is the one the validation found.
HEADER_PARAM_ITEM = rf"{SEMI}({TOKEN})(?:{EQUAL}({GEN_VALUE}))?(?={SWS}(?:;|\Z))"

DISPLAY_NAME_TOKENS = rf"{TOKEN}(?:{LWS}{TOKEN})*+"
NAME_ADDR = (
    rf"{SWS}(?:(?P<quoted>{QUOTED_STRING})|(?P<tokens>{DISPLAY_NAME_TOKENS}))?{SWS}"
    rf"<(?P<uri>[^<>\s]*+)>(?P<params>{SWS}(?:;.*)?)"
)
ADDR_SPEC_FORM = rf"{SWS}(?P<uri>[^\s<>;,\"]++)(?P<params>{SWS}(?:;.*)?)"

SENT_PROTOCOL = rf"(?P<proto>{TOKEN}){SLASH}(?P<version>{TOKEN}){SLASH}(?P<transport>{TOKEN})"
VIA_PARM = (
    rf"{SENT_PROTOCOL}{LWS}(?P<host>{HOST})(?:{COLON}(?P<port>{PORT}))?"
    rf"(?P<params>{HEADER_PARAMS}){SWS}"
)

CSEQ = rf"(?P<seq>{DIGIT}+){LWS}(?P<method>{TOKEN})"
CALLID = rf"{WORD}(?:@{WORD})?"
MEDIA_TYPE = rf"(?P<type>{TOKEN}){SLASH}(?P<subtype>{TOKEN})(?P<params>{HEADER_PARAMS}){SWS}"

# --- start lines (RFC 3261 §7.1 / §7.2) -----------------------------------------------------------------
SIP_VERSION = rf"(?i:SIP)/{DIGIT}+\.{DIGIT}+"
METHOD = TOKEN
REQUEST_LINE = rf"(?P<method>{TOKEN}) (?P<uri>[^ ]+) (?P<version>[^ ]+)"
# Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT / SP / HTAB); the
# header-section check already refused control characters, so "anything" is what is left.
STATUS_LINE = rf"(?P<version>[^ ]+) (?P<code>{DIGIT}{{3}})(?: (?P<reason>.*))?"

# --- compiled patterns used by uri.py / headers.py / message.py ------------------------------------------
TOKEN_RE = re.compile(TOKEN)
WORD_RE = re.compile(WORD)
HOST_RE = re.compile(HOST)
HOSTNAME_RE = re.compile(HOSTNAME)
IPV4_RE = re.compile(IPV4ADDRESS)
IPV6ADDRESS_RE = re.compile(IPV6ADDRESS)
IPV6REFERENCE_RE = re.compile(IPV6REFERENCE)
QUOTED_STRING_RE = re.compile(QUOTED_STRING)
QUOTED_PAIR_SUB_RE = re.compile(r"\\(.)", re.DOTALL)
SIP_URI_RE = re.compile(SIP_URI)
ABSOLUTE_URI_RE = re.compile(ABSOLUTE_URI)
TEL_URI_RE = re.compile(TEL_URI)
SCHEME_RE = re.compile(SCHEME)
OPAQUE_PART_RE = re.compile(rf"(?:[{URIC_CHARS}]|{ESCAPED})++")
TEL_NUMBER_RE = re.compile(rf"{GLOBAL_NUMBER_DIGITS}|{LOCAL_NUMBER_DIGITS}")
TEL_PNAME_RE = re.compile(TEL_PNAME)
URI_PARAMETERS_RE = re.compile(rf"(?:{URI_PARAMETER})*+")
TEL_PARAMETERS_RE = re.compile(rf"(?:{TEL_PARAMETER})*+")
GEN_VALUE_RE = re.compile(GEN_VALUE)
HEADER_PARAMS_RE = re.compile(rf"{HEADER_PARAMS}{SWS}")
HEADER_PARAM_ITEM_RE = re.compile(HEADER_PARAM_ITEM)
DISPLAY_NAME_TOKENS_RE = re.compile(DISPLAY_NAME_TOKENS)
NAME_ADDR_RE = re.compile(NAME_ADDR, re.DOTALL)
ADDR_SPEC_FORM_RE = re.compile(ADDR_SPEC_FORM, re.DOTALL)
VIA_PARM_RE = re.compile(VIA_PARM)
CSEQ_RE = re.compile(CSEQ)
CALLID_RE = re.compile(CALLID)
MEDIA_TYPE_RE = re.compile(MEDIA_TYPE)
SIP_VERSION_RE = re.compile(SIP_VERSION)
REQUEST_LINE_RE = re.compile(REQUEST_LINE)
STATUS_LINE_RE = re.compile(STATUS_LINE)
DIGITS_RE = re.compile(r"[0-9]+")
# One element of a comma-separated list: anything up to a top-level comma, where quoted strings and
# <...> are opaque.  Applied with .match at successive positions (see headers.split_list).
LIST_ELEMENT_RE = re.compile(rf'(?:[^,"<]++|{QUOTED_STRING}|<[^>]*+>)*+', re.DOTALL)

# Characters never allowed in a header section outside a quoted-pair: C0 controls other than HTAB, CR
# and LF, and DEL.  (message.py checks separately that every CR and LF belongs to a CRLF pair.)
FORBIDDEN_HEADER_CHAR_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A quoted-string in raw header text (before unfolding: a fold "CRLF 1*WSP" is LWS), whose quoted-pairs
# may carry control characters.  Only used once FORBIDDEN_HEADER_CHAR_RE or FORBIDDEN_VALUE_CHAR_RE has
# found a control character: the controls inside each match are the escaped ones, every other one is
# refused.  Every alternative starts with a different character, so the possessive loop is linear.
QUOTED_CONTROLS_RE = re.compile(
    r'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]++|\r\n[ \t]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*+"'
)
# What quote_string escapes with a backslash: '"', '\' and the control characters a quoted-pair may carry
# (all but HTAB, which is qdtext, and CR and LF, which cannot be quoted).
QUOTE_ESCAPE_RE = re.compile(r'["\\\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')
BARE_CR_OR_LF_RE = re.compile(r"\r(?!\n)|(?<!\r)\n")
# One header line of an unfolded header section: header-name HCOLON value.  Applied with findall to the
# whole section; a line that does not match makes the count differ and the slow path names it.
HEADER_LINE_RE = re.compile(rf"^({TOKEN})[ \t]*:[ \t]*([^\r]*)(?:\r\n|\Z)", re.MULTILINE)
# Characters refused in a header value given to Headers.add/set/prepend.
FORBIDDEN_VALUE_CHAR_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# "CRLF 1*WSP" line folding.
FOLD_RE = re.compile(r"\r\n[ \t]+")
