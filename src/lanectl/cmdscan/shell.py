"""Shell text → simple commands, for command analysis (:mod:`lanectl.cmdscan`).

A small, deliberately partial reader of POSIX sh / bash syntax. It runs and
expands nothing. It returns every simple command that appears anywhere in the
text — both sides of ``;``, ``&&``, ``||``, ``|``, inside subshells, ``$(…)``,
backticks and ``<(…)`` — each word with its quotes removed and its expansions
kept as written (``$HOME``, ``$(…)``) and marked dynamic. Whatever it cannot
read with certainty (unbalanced quotes, here-documents, ``case``, indirect
expansion, nesting too deep) it reports as a doubt; cmdscan denies on any
doubt (ADR 0008).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_TEXT = 64 * 1024
MAX_DEPTH = 8
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPECIAL = re.compile(r"[0-9@*#?$!-]")
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\+?=")
_FD_PREFIX = re.compile(r"\d+(?=[<>])")
_ANSI = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)", re.DOTALL)
_ANSI_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b",
                "f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}  # fmt: skip
_BREAK = " \t\n;&|()<>"
_REDIRECTS = ("&>>", "<<<", "<<-", "&>", "<<", "<>", "<&", ">>", ">|", ">&", "<", ">")


@dataclass(frozen=True)
class Word:
    """One word: ``text`` as written with quotes removed and expansions kept."""

    text: str
    dynamic: bool = False  # part of the value is only known at run time
    variables: tuple[str, ...] = ()  # parameters it expands ($X, ${X:-…})
    assignment: str | None = None  # NAME when the word is an unquoted NAME=value


@dataclass(frozen=True)
class Redirect:
    op: str  # < > >> &> <<< <& >& …
    target: Word


@dataclass(frozen=True)
class Simple:
    """A simple command: words, its redirections, and whether a pipe feeds it."""

    words: tuple[Word, ...]
    redirects: tuple[Redirect, ...] = ()
    piped: bool = False


@dataclass
class Parsed:
    commands: list[Simple] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)


def parse(text: str) -> Parsed:
    """Every simple command in ``text``, and the reasons it cannot be read for sure."""
    result = Parsed()
    if len(text) > MAX_TEXT:
        result.doubts.append(f"a command text of {len(text)} characters (limit {MAX_TEXT})")
        return result
    if "\0" in text:
        result.doubts.append("a NUL byte in the command text")
        return result
    _Reader(text, result, 0).commands()
    return result


class _Reader:
    def __init__(self, text: str, out: Parsed, depth: int) -> None:
        self.s = text
        self.i = 0
        self.out = out
        self.depth = depth

    def doubt(self, why: str) -> None:
        if why not in self.out.doubts:
            self.out.doubts.append(why)

    def sub(self, text: str) -> None:
        """Read ``text`` (a backtick body, a ${…} operand) as commands of its own."""
        if self.depth >= MAX_DEPTH:
            self.doubt(f"commands nested more than {MAX_DEPTH} levels deep")
            return
        _Reader(text, self.out, self.depth + 1).commands()

    # -- commands --------------------------------------------------------------

    def commands(self, stop: bool = False) -> None:
        """Read commands up to the end, or (``stop``) up to the ``)`` closing a ``$(``."""
        s = self.s
        words: list[Word] = []
        redirects: list[Redirect] = []
        piped = False
        level = 0

        def finish(next_piped: bool = False) -> None:
            nonlocal words, redirects, piped
            if words or redirects:
                self.out.commands.append(Simple(tuple(words), tuple(redirects), piped))
            words, redirects, piped = [], [], next_piped

        while self.i < len(s):
            c = s[self.i]
            if c in " \t":
                self.i += 1
            elif s.startswith("\\\n", self.i):
                self.i += 2
            elif c == "\n":
                finish()
                self.i += 1
            elif c == "#":
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
            elif c == "(":
                finish()
                level += 1
                self.i += 1
            elif c == ")":
                finish()
                self.i += 1
                if level:
                    level -= 1
                elif stop:
                    return
                else:
                    self.doubt("a ')' without its opening '('")
            elif c == ";":
                if s.startswith(";;", self.i) or s.startswith(";&", self.i):
                    self.doubt("a case statement")
                finish()
                self.i += 1
            elif s.startswith("&&", self.i) or s.startswith("||", self.i):
                finish()
                self.i += 2
            elif c == "&" and not s.startswith("&>", self.i):
                finish()
                self.i += 1
            elif c == "|":
                self.i += 2 if s.startswith("|&", self.i) else 1
                finish(next_piped=True)
            elif s.startswith("<(", self.i) or s.startswith(">(", self.i):
                words.append(self.process_substitution())
            elif c in "<>&":
                redirect = self.redirect()
                if redirect is not None:
                    redirects.append(redirect)
            elif match := _FD_PREFIX.match(s, self.i):
                self.i = match.end()
            else:
                word = self.word()
                if word is not None:
                    words.append(word)
        if stop:
            self.doubt("a '$(' without its closing ')'")
        elif level:
            self.doubt("a '(' without its closing ')'")
        finish()

    def process_substitution(self) -> Word:
        start = self.i
        self.i += 2
        self.nested()
        return Word(self.s[start : self.i], dynamic=True)

    def nested(self) -> None:
        """Read a ``$(…)`` / ``<(…)`` body in place, up to its closing ``)``."""
        if self.depth >= MAX_DEPTH:
            self.doubt(f"commands nested more than {MAX_DEPTH} levels deep")
            self.i = len(self.s)
            return
        self.depth += 1
        self.commands(stop=True)
        self.depth -= 1

    def redirect(self) -> Redirect | None:
        s = self.s
        op = next(o for o in _REDIRECTS if s.startswith(o, self.i))
        self.i += len(op)
        if op in ("<<", "<<-"):
            self.doubt("a here-document (the text it feeds is not analysed)")
        while self.i < len(s) and s[self.i] in " \t":
            self.i += 1
        if s.startswith("<(", self.i) or s.startswith(">(", self.i):
            return Redirect(op, self.process_substitution())
        target = self.word()
        if target is None:
            self.doubt(f"a '{op}' redirection without a target")
            return None
        return Redirect(op, target)

    # -- words -----------------------------------------------------------------

    def word(self) -> Word | None:
        s = self.s
        parts: list[str] = []
        variables: list[str] = []
        dynamic = False
        lead = ""  # unquoted literal text before the first quote or expansion
        plain = True
        start = self.i
        while self.i < len(s) and s[self.i] not in _BREAK:
            c = s[self.i]
            if c == "\\":
                if self.i + 1 < len(s):
                    parts.append(s[self.i + 1])
                self.i += 2
                plain = False
            elif c == "'":
                end = s.find("'", self.i + 1)
                if end < 0:
                    self.doubt("unbalanced single quotes")
                    end = len(s)
                parts.append(s[self.i + 1 : end])
                self.i = end + 1
                plain = False
            elif c == '"':
                self.i += 1
                dynamic |= self.double_quoted(parts, variables)
                plain = False
            elif c == "$":
                before = self.i
                dynamic |= self.dollar(parts, variables)
                plain = plain and self.i == before + 1 and parts[-1:] == ["$"]
            elif c == "`":
                self.backtick(parts)
                dynamic = True
                plain = False
            else:
                parts.append(c)
                self.i += 1
            if plain:
                lead = "".join(parts)
        if self.i == start:
            return None
        text = "".join(parts)
        assign = _ASSIGN.match(lead)
        return Word(text, dynamic, tuple(variables), assign.group(1) if assign else None)

    def double_quoted(self, parts: list[str], variables: list[str]) -> bool:
        s = self.s
        dynamic = False
        while self.i < len(s) and s[self.i] != '"':
            c = s[self.i]
            if c == "\\" and self.i + 1 < len(s):
                nxt = s[self.i + 1]
                if nxt != "\n":
                    parts.append(nxt if nxt in '$`"\\' else "\\" + nxt)
                self.i += 2
            elif c == "$" and not s.startswith("$'", self.i):
                dynamic |= self.dollar(parts, variables)
            elif c == "`":
                self.backtick(parts)
                dynamic = True
            else:
                parts.append(c)
                self.i += 1
        if self.i >= len(s):
            self.doubt("unbalanced double quotes")
        self.i += 1
        return dynamic

    def dollar(self, parts: list[str], variables: list[str]) -> bool:
        """Read one ``$`` expansion at ``self.i``; True when its value is dynamic."""
        s = self.s
        start = self.i
        nxt = s[self.i + 1 : self.i + 2]
        if nxt == "'":
            parts.append(self.ansi_c())
            return False
        if nxt == '"':  # $"…": a translated string, otherwise a double-quoted one
            self.i += 2
            return self.double_quoted(parts, variables)
        if s.startswith("$((", self.i):
            end = self.matching(self.i + 3, "(", ")", need=2)
            body = s[self.i + 3 : end]
            if "$(" in body or "`" in body:
                self.doubt("a command substitution inside $((…))")
            self.i = end + 2
        elif nxt == "(":
            self.i += 2
            self.nested()
        elif nxt == "{":
            end = self.matching(self.i + 2, "{", "}", need=1)
            self.parameter(s[self.i + 2 : end], variables)
            self.i = end + 1
        elif match := _NAME.match(s, self.i + 1):
            variables.append(match.group())
            self.i = match.end()
        elif _SPECIAL.match(s, self.i + 1):
            self.i += 2
        else:
            parts.append("$")
            self.i += 1
            return False
        parts.append(s[start : self.i])
        return True

    def parameter(self, body: str, variables: list[str]) -> None:
        if body.startswith("!"):
            self.doubt("an indirect expansion ${!…}")
            return
        match = _NAME.match(body.lstrip("#"))
        if match:
            variables.append(match.group())
            rest = body.lstrip("#")[match.end() :]
        else:
            rest = body[1:]
        if "$" in rest or "`" in rest:
            self.sub(rest)

    def matching(self, pos: int, opening: str, closing: str, *, need: int) -> int:
        """Index of the ``closing`` run that balances ``pos``; doubts when there is none."""
        s = self.s
        depth = 0
        quote = ""
        i = pos
        while i < len(s):
            c = s[i]
            if quote:
                if c == quote:
                    quote = ""
                elif c == "\\" and quote == '"':
                    i += 1
            elif c in "'\"":
                quote = c
            elif c == "\\":
                i += 1
            elif c == opening:
                depth += 1
            elif c == closing:
                if depth == 0 and s.startswith(closing * need, i):
                    return i
                depth = max(depth - 1, 0)
            i += 1
        self.doubt(f"a '{opening}' without its closing '{closing}'")
        return len(s)

    def backtick(self, parts: list[str]) -> None:
        s = self.s
        i = self.i + 1
        body: list[str] = []
        while i < len(s) and s[i] != "`":
            if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in "`$\\":
                body.append(s[i + 1])
                i += 2
            else:
                body.append(s[i])
                i += 1
        if i >= len(s):
            self.doubt("unbalanced backticks")
        parts.append(s[self.i : i + 1])
        self.i = i + 1
        self.sub("".join(body))

    def ansi_c(self) -> str:
        """Decode ``$'…'`` (bash ANSI-C quoting) at ``self.i``."""
        s = self.s
        i = self.i + 2
        raw: list[str] = []
        while i < len(s) and s[i] != "'":
            if s[i] == "\\" and i + 1 < len(s):
                raw.append(s[i : i + 2])
                i += 2
            else:
                raw.append(s[i])
                i += 1
        if i >= len(s):
            self.doubt("unbalanced $'…' quotes")
        self.i = i + 1

        def decode(match: re.Match[str]) -> str:
            code = match.group(1)
            if code[0] == "x":
                return chr(int(code[1:], 16))
            if code[0] in "01234567":
                return chr(int(code, 8))
            if code in _ANSI_SIMPLE:
                return _ANSI_SIMPLE[code]
            self.doubt(f"an escape \\{code} inside $'…'")
            return code

        return _ANSI.sub(decode, "".join(raw))
